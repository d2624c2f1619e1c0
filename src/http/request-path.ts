/** A request URL's path, without its query (what logs, routing checks and messages use). */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
