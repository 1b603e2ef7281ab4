import type { CallToolResult, Progress, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolDefinition, ToolOutput } from '../types.js';
import { modelToolName } from './names.js';

/** An MCP server's tools as definitions, named for the model and unique among themselves. */
export function toolDefinitions(server: string, tools: Tool[]): ToolDefinition[] {
  const taken = new Set<string>();
  return tools.map((tool) => {
    const name = modelToolName(server, tool.name, taken);
    taken.add(name);
    return {
      name,
      title: `${server} › ${tool.name}`,
      description: tool.description ?? tool.title ?? tool.annotations?.title ?? '',
      // a schema without `type: 'object'` is refused by some providers
      inputSchema: { ...tool.inputSchema, type: 'object' },
      readOnly: tool.annotations?.readOnlyHint === true,
      source: server,
      sourceName: tool.name,
    };
  });
}

type ContentPart = CallToolResult['content'][number];

function sizeOfBase64(data: string): string {
  const bytes = Math.floor((data.length * 3) / 4);
  return bytes < 1024 ? `${bytes} bytes` : `${Math.round(bytes / 1024)} KB`;
}

/** Text as it is; anything else in one line that says what it was, never its bytes. */
function describePart(part: ContentPart): string {
  switch (part.type) {
    case 'text':
      return part.text;
    case 'image':
    case 'audio':
      return `[${part.type} ${part.mimeType}, ${sizeOfBase64(part.data)}, not shown]`;
    case 'resource_link':
      return `[resource link: ${part.name} ${part.uri}]`;
    case 'resource': {
      const { uri, mimeType } = part.resource;
      const size = 'text' in part.resource ? `${part.resource.text.length} characters` : sizeOfBase64(part.resource.blob);
      return `[resource ${uri}${mimeType ? ` (${mimeType})` : ''}, ${size}, not shown]`;
    }
    default:
      return '[content of a kind Threadloom does not know, not shown]';
  }
}

/** What a server answered, as text for the model. */
export function toolOutput(result: Record<string, unknown>): ToolOutput {
  const isError = result.isError === true;
  if (!Array.isArray(result.content)) {
    // a server on the 2024-10-07 protocol answers `toolResult`
    return { text: JSON.stringify(result.toolResult ?? null), isError };
  }
  const parts = result.content as ContentPart[];
  const hasText = parts.some((part) => part.type === 'text');
  if (!hasText && result.structuredContent !== undefined) {
    const described = parts.map(describePart);
    return { text: [JSON.stringify(result.structuredContent), ...described].join('\n'), isError };
  }
  const text = parts.map(describePart).join('\n');
  return { text: text || '(the tool returned nothing)', isError };
}

/** A progress notification as the line shown while a tool runs. */
export function progressLine(progress: Progress): string {
  const amount = progress.total ? `${progress.progress}/${progress.total}` : `${progress.progress}`;
  return progress.message ? `${progress.message} (${amount})` : amount;
}
