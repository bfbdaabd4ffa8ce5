/** What a new playground tab shows: an example that works once a token is in the Headers tab. */
export const DEFAULT_QUERY = `# Welcome to the TrainGate playground.
#
# Put a token in the Headers tab below (npm run token -- <user>), then press Ctrl-Enter.
# The same token authorises subscriptions, which run over a WebSocket on /graphql.

{
  me {
    id
  }
  deployments(first: 5) {
    edges {
      node {
        id
        status
      }
    }
  }
}
`;

export const TOKEN_PLACEHOLDER = "Bearer <paste a token from npm run token -- you>";

/** The dashboard's token when the user signed in there, else a placeholder that says where to get one. */
export function defaultHeaders(token: string | null): string {
  return `${JSON.stringify({ Authorization: token ? `Bearer ${token}` : TOKEN_PLACEHOLDER }, null, 2)}\n`;
}
