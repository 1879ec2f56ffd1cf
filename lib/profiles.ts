// The three ways to run every notebook. Notebooks read their own settings per
// profile; this module only names the profiles and checks a name.
export const PROFILES = ["smoke", "laptop", "paper"] as const;
export type ProfileName = (typeof PROFILES)[number];

export const PROFILE_PURPOSE: Record<ProfileName, string> = {
  smoke: "CI: every notebook in seconds, tiny data and models, checks that the code runs",
  laptop: "a CPU: minutes per notebook, a scaled-down model on the embedded dataset, real results",
  paper: "the full recipe (224x224 crops, batch 128, 90 epochs); needs a GPU engine: cuda (tfjs-node-gpu) or webgpu on a hardware adapter",
};

export function parseProfile(value: string): ProfileName {
  if ((PROFILES as readonly string[]).includes(value)) return value as ProfileName;
  throw new Error(`unknown profile '${value}': use one of ${PROFILES.join(", ")}`);
}

/** Picks the value for a profile from a table, so notebooks state all three settings side by side. */
export function perProfile<T>(profile: string, table: Record<ProfileName, T>): T {
  return table[parseProfile(profile)];
}
