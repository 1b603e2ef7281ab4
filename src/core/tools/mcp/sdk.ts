import type * as ClientModule from '@modelcontextprotocol/sdk/client/index.js';
import type * as SseModule from '@modelcontextprotocol/sdk/client/sse.js';
import type * as StreamableModule from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type * as StdioModule from '@modelcontextprotocol/sdk/shared/stdio.js';
import type * as TypesModule from '@modelcontextprotocol/sdk/types.js';

/** The parts of the MCP SDK the client uses. */
export interface McpSdk {
  Client: typeof ClientModule.Client;
  SSEClientTransport: typeof SseModule.SSEClientTransport;
  StreamableHTTPClientTransport: typeof StreamableModule.StreamableHTTPClientTransport;
  StreamableHTTPError: typeof StreamableModule.StreamableHTTPError;
  ErrorCode: typeof TypesModule.ErrorCode;
  McpError: typeof TypesModule.McpError;
  ToolListChangedNotificationSchema: typeof TypesModule.ToolListChangedNotificationSchema;
  ReadBuffer: typeof StdioModule.ReadBuffer;
  serializeMessage: typeof StdioModule.serializeMessage;
}

let loaded: McpSdk | undefined;
let loading: Promise<McpSdk> | undefined;

/**
 * Loads the SDK the first time a server connects. It costs ~50 MB and most of a second to load
 * (its schemas), which a Threadloom with no MCP server configured should not pay at every start.
 */
export function loadMcpSdk(): Promise<McpSdk> {
  loading ??= Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/sse.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/shared/stdio.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]).then(([client, sse, streamable, stdio, types]) => {
    loaded = {
      Client: client.Client,
      SSEClientTransport: sse.SSEClientTransport,
      StreamableHTTPClientTransport: streamable.StreamableHTTPClientTransport,
      StreamableHTTPError: streamable.StreamableHTTPError,
      ErrorCode: types.ErrorCode,
      McpError: types.McpError,
      ToolListChangedNotificationSchema: types.ToolListChangedNotificationSchema,
      ReadBuffer: stdio.ReadBuffer,
      serializeMessage: stdio.serializeMessage,
    };
    return loaded;
  });
  return loading;
}

/** The SDK, once `loadMcpSdk` has resolved: everything that runs after a connection was opened. */
export function mcpSdk(): McpSdk {
  if (!loaded) throw new Error('the MCP SDK is used before it was loaded');
  return loaded;
}

/** The SDK if it was loaded: for describing an error that may come from before it was. */
export function sdkIfLoaded(): McpSdk | undefined {
  return loaded;
}
