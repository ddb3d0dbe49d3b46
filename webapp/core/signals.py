"""Events other features react to, without the team module knowing about them."""
from blinker import Namespace

_signals = Namespace()

# sender: the Membership being removed (still loaded, about to be deleted)
member_removed = _signals.signal("member-removed")
# sender: the Workspace whose subscription changed; kwargs: old_status
subscription_changed = _signals.signal("subscription-changed")
