import {
  connectionDraft,
  connectionTemplate,
  presetDraft,
  type OAuth2Template,
  IpcFailure,
  type Draft,
  type Flow,
  type FlowFields,
  type OAuth2Draft,
} from "$lib/ipc";

let oauth2: Promise<OAuth2Template> | null = null;

/**
 * The engine's template for OAuth 2.0 connections: a new connection's defaults and each flow's fields.
 * Asked once; a failed ask is asked again next time.
 */
export function oauth2Template(): Promise<OAuth2Template> {
  if (!oauth2) {
    oauth2 = connectionTemplate("oauth2").then(({ draft, flows }) => ({ draft: oauth2Draft(draft), flows })).catch((rejection) => {
      oauth2 = null;
      throw rejection;
    });
  }
  return oauth2;
}

/** Forgets the template (tests start each case from a fresh backend). */
export function forgetTemplate() {
  oauth2 = null;
}

/** What the connection form starts from: the rules, and the engine's draft for an edit, a preset or a blank form. */
export type FormStart = { template: OAuth2Template; draft: OAuth2Draft };

/** The OAuth 2.0 form edits only OAuth 2.0 drafts (a spec connection has its own screens). */
function oauth2Draft(draft: Draft): OAuth2Draft {
  if (draft.kind !== "oauth2") throw new IpcFailure("validation", `“${draft.name}” is made from a spec: change it under Spec.`);
  return draft;
}

export async function loadFormStart(existingId: string | null, presetId: string | null): Promise<FormStart> {
  const template = await oauth2Template();
  const draft = oauth2Draft(
    existingId
      ? await connectionDraft(existingId)
      : presetId
        ? await presetDraft(presetId)
        : (JSON.parse(JSON.stringify(template.draft)) as Draft),
  );
  return { template, draft };
}

/** The rules of one flow; a flow the template does not list needs and ignores nothing. */
export function flowFields(flows: FlowFields[], flow: Flow): FlowFields {
  return flows.find((fields) => fields.flow === flow) ?? { flow, required: [], unused: [] };
}
