"""The classroom: one broker served over WebSocket from the teacher's kernel
(:func:`serve`), and the students' client (:func:`connect`).

``websockets`` is needed only here: ``pip install 'paperbroker[classroom]'``.
"""

from .client import RemoteBroker, connect
from .protocol import PROTOCOL_VERSION, AccessDenied, ConnectionLost, ProtocolError, RateLimited
from .server import ClassroomServer, ClientInfo, Invitation, serve

__all__ = [
    "PROTOCOL_VERSION",
    "AccessDenied",
    "ClassroomServer",
    "ClientInfo",
    "ConnectionLost",
    "Invitation",
    "ProtocolError",
    "RateLimited",
    "RemoteBroker",
    "connect",
    "serve",
]
