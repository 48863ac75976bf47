import type { PresetDto } from "$lib/ipc";

/** The host a person recognises a provider by: its sign-in page's, or its token endpoint's. */
export function presetHost(preset: PresetDto): string | null {
  const url = preset.settings.authorize_url ?? preset.settings.token_url;
  if (!url) return null;
  try {
    return new URL(url).host;
  } catch {
    return null;
  }
}

/** Presets whose name, id or host contains every word typed, in their own order. */
export function matchPresets(presets: PresetDto[], query: string): PresetDto[] {
  const words = query.toLowerCase().split(/\s+/).filter((word) => word !== "");
  if (words.length === 0) return presets;
  return presets.filter((preset) => {
    const haystack = `${preset.name} ${preset.id} ${presetHost(preset) ?? ""}`.toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

/** The presets the picker lists: training services (a practice API on a mock server) only when asked for. */
export function listedPresets(presets: PresetDto[], showTraining: boolean): PresetDto[] {
  return showTraining ? presets : presets.filter((preset) => !preset.training);
}

/**
 * The search text as a provider's address, when it is one: "https://id.example.com" as typed, or a bare host
 * such as "id.example.com" with https:// in front. Anything else (a name like "google") is not an address.
 */
export function addressFromSearch(query: string): string | null {
  const text = query.trim();
  if (text === "" || /\s/.test(text)) return null;
  const candidate = /^https?:\/\//i.test(text) ? text : /^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?(\/\S*)?$/i.test(text) ? `https://${text}` : null;
  if (!candidate) return null;
  try {
    const url = new URL(candidate);
    return url.hostname.includes(".") || url.hostname === "localhost" ? candidate : null;
  } catch {
    return null;
  }
}
