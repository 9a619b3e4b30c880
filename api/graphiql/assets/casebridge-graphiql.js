// casebridge's GraphiQL: the endpoint is this page's own URL; the caller's token and purpose of use
// go in the Headers tab: never in the URL, and not kept in local storage (shouldPersistHeaders: false), since
// caseworkers share computers.
(function () {
  "use strict";
  var WELCOME = [
    "# casebridge: one consented, audited view of a client's records.",
    "#",
    "# 1. Put a token in the Headers tab (the demo prints one per caller), with a",
    "#    purpose of use: case_management, care_coordination, eligibility, emergency,",
    "#    audit, identity_stewardship or client_access.",
    "# 2. Run this query (Ctrl-Enter), then open a client: client(id: \"...\").",
    "#    Every section tells you whether it was shown or withheld, and why.",
    "",
    "{",
    "  me { subject organization roles }",
    "}",
    "",
  ].join("\n");
  var HEADERS = JSON.stringify(
    { Authorization: "Bearer <paste a token>", "X-Purpose-Of-Use": "case_management" }, null, 2);

  var url = window.location.href.split("?")[0].split("#")[0];
  var fetcher = GraphiQL.createFetcher({ url: url });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: WELCOME,
      defaultHeaders: HEADERS,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
