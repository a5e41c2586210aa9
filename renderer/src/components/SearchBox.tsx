/** Placeholder until the component is built. */
export function SearchBox(): React.JSX.Element | null {
  return null;
}
