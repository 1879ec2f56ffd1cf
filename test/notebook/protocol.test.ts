import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { ProtocolError, decode, encode, newMessage, sign } from "../../lib/notebook/protocol";

test("sign is HMAC-SHA256 over the four JSON parts in order", () => {
  const parts = ['{"a":1}', "{}", "{}", '{"code":"1"}'];
  const expected = createHmac("sha256", "k").update(parts.join("")).digest("hex");
  assert.equal(sign("k", parts), expected);
  assert.equal(sign("", parts), "", "an empty key means unsigned messages");
});

test("encode then decode round-trips a message, with routing identities ignored", () => {
  const msg = newMessage("execute_request", { code: "1 + 1" }, "session-1");
  const frames = [Buffer.from("identity"), ...encode("secret", msg).map((f) => Buffer.from(f))];
  const back = decode("secret", frames);
  assert.deepEqual(back.header, msg.header);
  assert.deepEqual(back.content, { code: "1 + 1" });
  assert.equal(back.header.version, "5.3");
  assert.equal(back.header.msg_type, "execute_request");
});

test("decode refuses a tampered or wrongly signed message", () => {
  const msg = newMessage("stream", { name: "stdout", text: "hi" }, "s");
  const frames = encode("secret", msg).map((f) => Buffer.from(f));
  assert.throws(() => decode("other", frames), ProtocolError);
  const tampered = [...frames];
  tampered[5] = Buffer.from(JSON.stringify({ name: "stdout", text: "evil" }));
  assert.throws(() => decode("secret", tampered), /signature/);
  assert.throws(() => decode("secret", [Buffer.from("no delimiter")]), /malformed/);
});
