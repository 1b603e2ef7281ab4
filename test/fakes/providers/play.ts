/**
 * Playing a behaviour: the streaming engine (chunks, delays, stalls, cuts, malformed frames)
 * driven through a provider's wire format, plus small helpers the three fakes share.
 */
import type { FakeCall } from './core.js';
import type { FakeBehaviour, FakeToolCall, FakeUsage, RecordedRequest } from './types.js';

/** How one provider frames a streamed answer. */
export interface WireFormat {
  contentType: string;
  /** frames before the first text chunk */
  start(): string;
  text(chunk: string): string;
  /** a frame whose data is not valid JSON */
  malformed(): string;
  /** the provider's in-stream error frame */
  error(message: string): string;
  /** frames for the calls, after the text: each one a chunk of the stream */
  toolCalls?(calls: FakeToolCall[], fragmentSize: number): string[];
  /** frames after the last text chunk (and tool call) */
  end(stopReason: string | undefined, usage: FakeUsage | null): string;
}

export function splitChunks(text: string, size: number): string[] {
  const chunks: string[] = [];
  const step = Math.max(1, Math.floor(size));
  for (let i = 0; i < text.length; i += step) chunks.push(text.slice(i, i + step));
  return chunks;
}

/** The arguments of a scripted call as the JSON text the model would write. */
export function argumentsText(call: FakeToolCall): string {
  return typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
}

/** Usage used when a behaviour does not give one: about 4 characters per token. */
export function defaultUsage(request: RecordedRequest, answer: string): FakeUsage {
  const promptChars = JSON.stringify(request.body?.messages ?? request.body?.system ?? '').length;
  return { input: Math.max(1, Math.ceil(promptChars / 4)), output: Math.max(1, Math.ceil(answer.length / 4)) };
}

/** Plays a behaviour through a wire format. */
export async function streamAnswer(
  call: FakeCall,
  wire: WireFormat,
  behaviour: FakeBehaviour,
  answer: string,
  usage: FakeUsage | null,
  chunkSize: number,
): Promise<void> {
  const size = behaviour.chunkSize ?? chunkSize;
  const toolFrames = behaviour.toolCalls?.length && wire.toolCalls ? wire.toolCalls(behaviour.toolCalls, size) : [];
  const frames = [...splitChunks(answer, size).map((chunk) => wire.text(chunk)), ...toolFrames];
  if (behaviour.stallBeforeHeadersMs !== undefined && !(await call.sleep(behaviour.stallBeforeHeadersMs))) return;
  call.startStream(wire.contentType);
  if (behaviour.stallBeforeFirstTokenMs !== undefined && !(await call.sleep(behaviour.stallBeforeFirstTokenMs))) return;
  if (!(await call.write(wire.start()))) return;
  if (behaviour.malformed && !(await call.write(wire.malformed()))) return;
  for (let i = 0; ; i++) {
    if (behaviour.cutAfterChunks === i) return call.cut();
    if (behaviour.errorAfterChunks === i) {
      await call.write(wire.error(behaviour.errorMessage ?? 'the fake server failed mid-stream'));
      call.res.end();
      return;
    }
    if (behaviour.stallAfterChunks === i && !(await call.sleep(behaviour.stallMs ?? Infinity))) return;
    if (i >= frames.length) break;
    if (i > 0 && behaviour.delayMs && !(await call.sleep(behaviour.delayMs))) return;
    if (!(await call.write(frames[i]!))) return;
  }
  if (await call.write(wire.end(behaviour.stopReason, usage))) call.res.end();
}

/**
 * For a behaviour on a non-streaming request: play stalls and cuts, send `malformed` bodies.
 * Returns true when the behaviour has already answered (or the client left).
 */
export async function playPlainBehaviour(call: FakeCall, behaviour: FakeBehaviour): Promise<boolean> {
  if (behaviour.stallBeforeHeadersMs !== undefined && !(await call.sleep(behaviour.stallBeforeHeadersMs))) return true;
  if (behaviour.stallBeforeFirstTokenMs !== undefined && !(await call.sleep(behaviour.stallBeforeFirstTokenMs))) return true;
  if (behaviour.cutAfterChunks !== undefined) {
    call.startStream('application/json');
    await call.cut();
    return true;
  }
  if (behaviour.malformed) {
    call.res.writeHead(200, { 'content-type': 'application/json' });
    call.res.end('{"this is": not json');
    return true;
  }
  return false;
}

export function retryHeaders(behaviour: FakeBehaviour): Record<string, string> {
  const headers: Record<string, string> = {};
  if (behaviour.retryAfter !== undefined) headers['retry-after'] = String(behaviour.retryAfter);
  if (behaviour.retryAfterMs !== undefined) headers['retry-after-ms'] = String(behaviour.retryAfterMs);
  return headers;
}

/** Deterministic unit-length vector for a text, Float32-exact so base64 and JSON give equal numbers. */
export function fakeEmbedding(text: string, dimension = 8): number[] {
  let seed = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    seed ^= text.charCodeAt(i);
    seed = Math.imul(seed, 0x01000193) >>> 0;
  }
  const raw: number[] = [];
  for (let i = 0; i < dimension; i++) {
    // mulberry32
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    raw.push(((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5);
  }
  const norm = Math.hypot(...raw) || 1;
  return raw.map((v) => Math.fround(v / norm));
}

export function toBase64Float32(vector: number[]): string {
  const buf = Buffer.from(new Float32Array(vector).buffer);
  return buf.toString('base64');
}
