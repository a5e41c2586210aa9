/** Placeholder until the component is built. */
export function CardPrompt(): React.JSX.Element | null {
  return null;
}
