// The spec editor: CodeMirror 6 with JSON highlighting, JSON syntax errors and the spec's JSON schema
// (docs/latch-spec.schema.json, from the engine) as inline errors. Loaded on demand (a dynamic import): the
// first paint does not pay for it.
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { json, jsonParseLinter } from "@codemirror/lang-json";
import { bracketMatching, defaultHighlightStyle, HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { linter, lintGutter } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { handleRefresh, jsonSchemaLinter, stateExtensions } from "codemirror-json-schema";

/** Colours that keep 4.5:1 contrast on the app's light and dark backgrounds (the app's own variables). */
const highlight = HighlightStyle.define([
  { tag: tags.propertyName, color: "var(--accent)" },
  { tag: tags.string, color: "var(--good)" },
  { tag: [tags.number, tags.bool, tags.null], color: "var(--warning)" },
]);

const theme = EditorView.theme({
  "&": { border: "1px solid var(--field-border)", borderRadius: "6px", background: "var(--surface)", color: "var(--text)", fontSize: "13px" },
  "&.cm-focused": { outline: "2px solid var(--accent)", outlineOffset: "1px" },
  ".cm-scroller": { fontFamily: "var(--mono)", maxHeight: "420px", overflow: "auto" },
  ".cm-gutters": { background: "var(--surface-2)", color: "var(--muted)", border: "none" },
  ".cm-content": { caretColor: "var(--text)" },
  ".cm-tooltip": { background: "var(--surface)", color: "var(--text)", border: "1px solid var(--border)" },
});

export type SpecEditor = { text: () => string; setText: (text: string) => void; destroy: () => void };

/** Opens an editor in `parent` holding `text`; `onchange` hears every edit. */
export function openSpecEditor(parent: HTMLElement, text: string, schema: object, label: string, onchange: (text: string) => void): SpecEditor {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        lineNumbers(),
        history(),
        bracketMatching(),
        keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
        json(),
        syntaxHighlighting(highlight),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        linter(jsonParseLinter()),
        linter(jsonSchemaLinter(), { needsRefresh: handleRefresh }),
        lintGutter(),
        stateExtensions(schema),
        theme,
        EditorView.lineWrapping,
        // The scroller is reachable from the keyboard through its content (axe: scrollable-region-focusable).
        EditorView.contentAttributes.of({ "aria-label": label, "data-testid": "spec-editor-content", tabindex: "0" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onchange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    text: () => view.state.doc.toString(),
    setText: (next) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: next } }),
    destroy: () => view.destroy(),
  };
}
