"""The staff interface under /staff/. Each view module owns its patterns."""

from tipline.triage.views import (
    audit,
    auth,
    conversation,
    editors,
    files,
    inbox,
    recovery,
    retention,
    tip,
)

app_name = "staff"

urlpatterns = [
    *auth.urlpatterns,
    *inbox.urlpatterns,
    *tip.urlpatterns,
    *conversation.urlpatterns,
    *files.urlpatterns,
    *editors.urlpatterns,
    *audit.urlpatterns,
    *retention.urlpatterns,
    *recovery.urlpatterns,
]
