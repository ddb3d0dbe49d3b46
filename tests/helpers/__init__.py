"""Plain helpers the test directories share (no fixtures are defined here except the browser's,
registered once from tests/conftest.py): import them by name, e.g.
`from tests.helpers.waiting import wait_for`.

- paths: the repository root
- waiting: wait_for, the one polling loop
- servers: free ports, Closeline over real HTTP (served, Live)
- workers: real `rq worker` processes (start, stop, SIGKILL)
- web: the CSRF-aware test-client Browser and text_of
- browser: Chromium through Playwright (the `chromium` fixture), new_page, sign_in
- messages: ingestion bodies, Message rows, Close sandbox activities, the fast sync settings
- outcomes: Message rows with outcomes at chosen times (screens, dashboard, sync log)
- close_connection: driving the Close sandbox's sign-in and consent, connection rows and events
- history: a gateway's history as plain data
- whatsapp: WAHA webhook envelopes, signatures and number links
- gateway_sandbox: Closeline's gateways against the WhatsApp sandbox (phones, linking, waiting)
- close_sandbox, sandbox_contract: the Close sandbox's own tests (credentials, OAuth, contract)
- whatsapp_sandbox: the WhatsApp sandbox's own tests (webhook receiver, WAHA client)
- routes: real Acme ids for every route parameter
- rows: counting rows
- hostile: a hostile HTTP server on loopback (SSRF and outbound tests)
"""
