"""All models. Import them from here: `from webapp.models import Workspace`."""
from webapp.models import text_search  # noqa: F401,E402  (the log's text index, created with `messages`)
from webapp.models.accounts import (  # noqa: F401
    ROLES,
    ApiKey,
    Invitation,
    Membership,
    User,
    WhatsAppNumber,
    Workspace,
)
from webapp.models.base import utcnow  # noqa: F401
from webapp.models.close import (  # noqa: F401
    CloseConnection,
    ConnectionEvent,
    JobRun,
    Notification,
)
from webapp.models.cloud import CloudApiNumber  # noqa: F401
from webapp.models.messages import Chat, ChatLink, Message, whatsapp_id_of  # noqa: F401
from webapp.models.privacy import ExclusionEntry, HistoryImport, PrivacySettings  # noqa: F401
from webapp.models.whatsapp import (  # noqa: F401
    ChatWatermark,
    Gateway,
    GatewayEvent,
    LidMapping,
    NumberLink,
    WhatsAppSettings,
)
