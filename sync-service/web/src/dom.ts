/** A small element builder: attributes and children, never HTML strings (nothing typed by anyone is parsed as markup). */

type Child = Node | string | null | undefined | false;

/** An element with `attributes` (strings; `true` for a bare attribute, `false`/undefined to leave it out) and `children`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

/** Replaces everything in `parent` with `children`. */
export function mount(parent: Element, ...children: Node[]): void {
  parent.replaceChildren(...children);
}
