/** Placeholder until the screen is built. */
export function PeopleView(_props: Record<string, unknown>): React.JSX.Element {
  return <section className="screen"><h1>PeopleView</h1></section>;
}
