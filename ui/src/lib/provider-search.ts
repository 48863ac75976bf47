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
