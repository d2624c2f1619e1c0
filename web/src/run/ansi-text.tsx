import Anser from 'anser';
import { memo } from 'react';

/**
 * A log line's ANSI colours as spans with classes (`ansi-red-fg`, …, styled in styles.css);
 * 24-bit colours go through the style property (CSSOM, which the CSP allows), never HTML.
 */
export const AnsiText = memo(function AnsiText({ text }: { text: string }) {
  // Most lines carry no escape at all: skip the parser.
  if (!text.includes('\u001b[')) return <>{text}</>;
  const parts = Anser.ansiToJson(text, { use_classes: true, remove_empty: true });
  return (
    <>
      {parts.map((part, index) => {
        const classes = [part.fg && `${part.fg}-fg`, part.bg && `${part.bg}-bg`, ...part.decorations.map((d) => `ansi-${d}`)]
          .filter(Boolean)
          .join(' ');
        const style =
          part.fg_truecolor || part.bg_truecolor
            ? { color: part.fg_truecolor ? `rgb(${part.fg_truecolor})` : undefined, backgroundColor: part.bg_truecolor ? `rgb(${part.bg_truecolor})` : undefined }
            : undefined;
        return (
          <span key={index} className={classes || undefined} style={style}>
            {part.content}
          </span>
        );
      })}
    </>
  );
});
