// The few browser globals the wallet page script uses, typed narrowly: worker/tsconfig.json checks
// this folder against workers-types, which has no DOM, and a DOM lib would clash with them.

/** The part of a DOM element the page touches. */
export interface PageElement {
  textContent: string | null;
  hidden: boolean;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
  append(...nodes: PageElement[]): void;
  replaceChildren(...nodes: PageElement[]): void;
}

/** The part of `document` the page touches. */
export interface PageDocument {
  title: string;
  querySelector(selector: string): PageElement | null;
  createElement(tagName: string): PageElement;
}

/** The part of `location` the page touches. */
export interface PageLocation {
  readonly protocol: string;
  readonly hostname: string;
  readonly port: string;
  readonly search: string;
}

interface BrowserGlobals {
  document: PageDocument;
  location: PageLocation;
}

// Only the browser bundle (tools/build-page.ts) imports this; the Worker never evaluates it.
const browser = globalThis as unknown as BrowserGlobals;

/** The page's document. */
export function pageDocument(): PageDocument {
  return browser.document;
}

/** The page's address. */
export function pageLocation(): PageLocation {
  return browser.location;
}
