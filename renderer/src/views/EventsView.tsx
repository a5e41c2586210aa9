/** Placeholder until the screen is built. */
export function EventsView(_props: Record<string, unknown>): React.JSX.Element {
  return <section className="screen"><h1>EventsView</h1></section>;
}
