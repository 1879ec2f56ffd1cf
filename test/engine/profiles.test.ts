import assert from "node:assert/strict";
import { test } from "node:test";
import { PROFILES, parseProfile, perProfile } from "../../lib/profiles";

test("parseProfile accepts the three profiles and names them on a typo", () => {
  for (const p of PROFILES) assert.equal(parseProfile(p), p);
  assert.throws(() => parseProfile("lapotp"), /unknown profile 'lapotp': use one of smoke, laptop, paper/);
});

test("perProfile picks the profile's value", () => {
  const table = { smoke: 1, laptop: 10, paper: 90 };
  assert.equal(perProfile("laptop", table), 10);
  assert.throws(() => perProfile("fast", table), /unknown profile/);
});
