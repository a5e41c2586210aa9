/** Placeholder until the screen is built. */
export function FirstRunView(_props: Record<string, unknown>): React.JSX.Element {
  return <section className="screen"><h1>FirstRunView</h1></section>;
}
