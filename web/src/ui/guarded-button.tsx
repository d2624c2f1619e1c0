import { useId, type ButtonHTMLAttributes } from 'react';

interface Props extends ButtonHTMLAttributes<HTMLButtonElement> {
  /** Why the signed-in role may not do this; the button is disabled and says so. */
  reason?: string;
  /** Keep the reason out of sight (a tooltip and the accessible description only), e.g. in table rows. */
  quietReason?: boolean;
}

/**
 * A button the signed-in role may not be allowed to press: disabled, with the reason as its
 * tooltip (`title`) and its accessible description (`aria-describedby`), shown beside it
 * unless `quietReason` (a disabled button takes no focus, so a tooltip alone would hide the
 * reason from keyboard users).
 */
export function GuardedButton({ reason, quietReason, disabled, children, ...props }: Props) {
  const id = useId();
  return (
    <>
      <button type="button" {...props} disabled={disabled || reason !== undefined} title={reason ?? props.title} aria-describedby={reason ? id : props['aria-describedby']}>
        {children}
      </button>
      {reason && (
        <span id={id} className={quietReason ? 'visually-hidden' : 'hint'}>
          {reason}
        </span>
      )}
    </>
  );
}
