import type { GridSource } from '../stores/nav.store.ts';

/** Placeholder until the screen is built. */
export function GridView({ source }: { source: GridSource }): React.JSX.Element {
  return <section className="screen"><h1>Grid {source.kind}</h1></section>;
}
