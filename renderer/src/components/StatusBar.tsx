/** Placeholder until the component is built. */
export function StatusBar(): React.JSX.Element | null {
  return null;
}
