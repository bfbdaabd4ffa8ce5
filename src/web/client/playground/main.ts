import "graphiql/style.css";
import "./monaco-workers";
import "./playground.css";
import { GraphiQL } from "graphiql";
import { buildSchema } from "graphql";
import { createElement, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import sdl from "../../../../schema/schema.graphql";
import { graphqlWebSocketUrl, readToken } from "../shared/token-store";
import { DEFAULT_QUERY, defaultHeaders } from "./defaults";
import { createPlaygroundFetcher } from "./fetcher";

const container = document.getElementById("graphiql");
if (!container) throw new Error("the page has no #graphiql element");

// The SDL committed in schema/schema.graphql is the server's own (a test fails when they drift), so the
// docs and the editors' completion work at once, without an introspection round trip.
const schema = buildSchema(sdl);
const params = new URLSearchParams(window.location.search);

createRoot(container).render(
  createElement(
    StrictMode,
    null,
    createElement(GraphiQL, {
      fetcher: createPlaygroundFetcher({
        url: `${window.location.origin}/graphql`,
        wsUrl: graphqlWebSocketUrl(window.location),
      }),
      schema,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: defaultHeaders(readToken()),
      initialQuery: params.get("query") ?? undefined,
      initialVariables: params.get("variables") ?? undefined,
      defaultEditorToolsVisibility: "headers",
      showPersistHeadersSettings: true,
    }),
  ),
);
