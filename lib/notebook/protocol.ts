// The Jupyter messaging protocol, version 5: message shapes, HMAC-SHA256
// signing and the multipart wire format used on every ZeroMQ socket.
// https://jupyter-client.readthedocs.io/en/latest/messaging.html
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const PROTOCOL_VERSION = "5.3";
const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface Message<C = Record<string, unknown>> {
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
}

export function newMessage<C>(msgType: string, content: C, session: string): Message<C> {
  return {
    header: {
      msg_id: randomUUID(),
      session,
      username: "alexnet",
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    },
    parent_header: {},
    metadata: {},
    content,
  };
}

export function sign(key: string, parts: string[]): string {
  if (key === "") return "";
  const hmac = createHmac("sha256", key);
  for (const p of parts) hmac.update(p);
  return hmac.digest("hex");
}

/** Frames for a DEALER socket: no routing identities, then delimiter, signature, four JSON parts. */
export function encode(key: string, msg: Message<unknown>): string[] {
  const parts = [JSON.stringify(msg.header), JSON.stringify(msg.parent_header), JSON.stringify(msg.metadata), JSON.stringify(msg.content)];
  return [DELIMITER, sign(key, parts), ...parts];
}

export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** Parses frames from any socket; refuses a message whose signature does not match. */
export function decode(key: string, frames: Buffer[]): Message {
  const strings = frames.map((f) => f.toString("utf8"));
  const at = strings.indexOf(DELIMITER);
  if (at < 0 || strings.length < at + 6) throw new ProtocolError("malformed message: no delimiter or too few frames");
  const signature = strings[at + 1];
  const parts = strings.slice(at + 2, at + 6);
  if (key !== "") {
    const expected = Buffer.from(sign(key, parts), "utf8");
    const got = Buffer.from(signature, "utf8");
    if (expected.length !== got.length || !timingSafeEqual(expected, got))
      throw new ProtocolError("message signature does not match the session key");
  }
  return {
    header: JSON.parse(parts[0]) as Header,
    parent_header: JSON.parse(parts[1]) as Partial<Header>,
    metadata: JSON.parse(parts[2]) as Record<string, unknown>,
    content: JSON.parse(parts[3]) as Record<string, unknown>,
  };
}
