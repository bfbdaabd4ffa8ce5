/** What `h` accepts as children: nodes, text, and nothing (skipped). */
export type Child = Node | string | number | null | undefined | false;

/**
 * Attributes only (`class`, `data-*`, `aria-*`, …); events go through `addEventListener`. Never `style`:
 * the page's Content-Security-Policy refuses inline style attributes, so sizes are set through
 * `element.style`, which it allows.
 */
export type Attributes = Record<string, string | number | boolean | null | undefined>;

/** Creates an element with attributes and children. Text is always a text node: no HTML is parsed. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A link the router handles without a page load (see router.ts). */
export function link(
  href: string,
  attributes: Attributes,
  ...children: (Child | Child[])[]
): HTMLAnchorElement {
  return h("a", { ...attributes, href, "data-route": true }, ...children);
}
