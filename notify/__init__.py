"""Messages that reach the client: reminders and updates by text message and email (issue 19).

`outbox` records a message in the store before anything is sent; `worker` sends what is due through the gate
(Cedar action notification.deliver: only to a contact point the client opted in to), honouring quiet hours and a
per-client cap, retrying with backoff; `providers` are the small adapters to an SMTP server and an HTTP SMS
provider; `keywords` turns an inbound STOP, START or HELP into the client's own opt-in change; `planner` turns
appointments into reminders at the configured lead times; `templates` writes the words, per language, with no
sensitive detail in them.
"""
