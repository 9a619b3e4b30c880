"""Which action each GraphQL field is: the contract between the schema and the policies.

Every query and mutation is one Cedar action (core.vocabulary.Action); the desk
behind the field asks the gate for exactly that action, and a refusal is logged
under it. tests/test_actions.py fails when a field has no action here, when an
action has no rule, and when a field's refusal is logged under another action.
"""

from __future__ import annotations

from core.vocabulary import Action

QUERY_ACTIONS: dict[str, Action] = {
    "me": Action.SESSION_READ,
    "client": Action.READ,
    "clients": Action.READ,
    "searchClients": Action.SEARCH,
    "identityReviewQueue": Action.IDENTITY_REVIEW,
    "identityClient": Action.IDENTITY_EXPLAIN,
    "consents": Action.CONSENT_READ,
    "consent": Action.CONSENT_READ,
    "accessLog": Action.AUDIT_READ,
    "accessSummary": Action.AUDIT_SUMMARY,
    "accessLogIntegrity": Action.AUDIT_VERIFY,
    "accessLogExport": Action.AUDIT_EXPORT,
    "disclosureReport": Action.DISCLOSURE_REPORT,
    "documentReviews": Action.DOCUMENT_REVIEW,
    "directoryServices": Action.DIRECTORY_SEARCH,
    "directoryNeeds": Action.DIRECTORY_SEARCH,
    "referralInbox": Action.REFERRAL_RESPOND,
    "webhookSubscriptions": Action.WEBHOOK_MANAGE,
}

MUTATION_ACTIONS: dict[str, Action] = {
    "recordConsent": Action.CONSENT_RECORD,
    "amendConsent": Action.CONSENT_AMEND,
    "revokeConsent": Action.CONSENT_REVOKE,
    "startBreakGlass": Action.BREAK_GLASS,
    "addCaseNote": Action.CASE_NOTE_ADD,
    "addContactPoint": Action.CONTACT_RECORD,
    "setContactOptIn": Action.CONTACT_RECORD,
    "setContactPreferences": Action.CONTACT_RECORD,
    "scheduleAppointment": Action.APPOINTMENT_SCHEDULE,
    "updateAppointment": Action.APPOINTMENT_UPDATE,
    "requestDocument": Action.DOCUMENT_REQUEST,
    "reviewDocument": Action.DOCUMENT_REVIEW,
    "referClient": Action.REFERRAL_CREATE,
    "answerReferral": Action.REFERRAL_RESPOND,
    "withdrawReferral": Action.REFERRAL_WITHDRAW,
    "createPlan": Action.PLAN_WRITE,
    "addPlanTask": Action.PLAN_WRITE,
    "addPlanGoal": Action.PLAN_WRITE,
    "setPlanTask": Action.PLAN_STEP,
    "updatePlanGoal": Action.PLAN_WRITE,
    "checkPlanEvidence": Action.PLAN_WRITE,
    "recordLegalMilestone": Action.LEGAL_RECORD,
    "markLegalMilestoneInError": Action.LEGAL_RECORD,
    "subscribeWebhook": Action.WEBHOOK_MANAGE,
    "endWebhook": Action.WEBHOOK_MANAGE,
    "resolveIdentityReview": Action.IDENTITY_RESOLVE,
    "linkRecords": Action.IDENTITY_LINK,
    "unlinkRecord": Action.IDENTITY_UNLINK,
}
