/** Placeholder until the screen is built. */
export function ImportView(_props: Record<string, unknown>): React.JSX.Element {
  return <section className="screen"><h1>ImportView</h1></section>;
}
