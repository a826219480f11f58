"""thar's settings datastore, compatible with Bottlerocket's on disk.

Keys are dotted names (``settings.motd``); values are compact JSON strings. Changes are staged
in pending transactions and committed to live atomically through a journal that also keeps
the commit history. Metadata (``affected-services``, ``setting-generator``) hangs off keys and
is inherited down the key tree. The package has no knowledge of the settings model: the
apiserver, storewolf and the migrator build on it. See README.md for the API.
"""

from __future__ import annotations

from .base import LIVE, Committed, DataStore, Live, Pending, meta_key
from .errors import (
    CommitWithNoPending,
    Corruption,
    DatastoreError,
    Deserialization,
    InvalidKey,
    InvalidTransaction,
    JournalError,
    KeyConflict,
    KeyRead,
    KeyTooLong,
    KeyWrite,
    LinkNotReplaced,
    ListedKeyNotPresent,
    OutOfSpace,
    PathTraversal,
    Serialization,
    VersionError,
)
from .filesystem import FilesystemDataStore, decode_segment, encode_segment
from .journal import Caller, Change, Commit
from .key import KEY_SEPARATOR, MAX_KEY_NAME_LENGTH, Key, KeyType
from .memory import MemoryDataStore
from .serialization import from_json, from_map, from_map_with_prefix, to_json, to_pairs, to_pairs_with_prefix
from .version import (
    Version,
    create_new_datastore,
    datastore_version,
    link_datastore,
    publish_datastore,
    resume_new_datastore,
    start_new_datastore,
    version_from_os_release,
)

__all__ = [
    "KEY_SEPARATOR",
    "LIVE",
    "MAX_KEY_NAME_LENGTH",
    "Caller",
    "Change",
    "Commit",
    "CommitWithNoPending",
    "Committed",
    "Corruption",
    "DataStore",
    "DatastoreError",
    "Deserialization",
    "FilesystemDataStore",
    "InvalidKey",
    "InvalidTransaction",
    "JournalError",
    "Key",
    "KeyConflict",
    "KeyRead",
    "KeyTooLong",
    "KeyType",
    "KeyWrite",
    "LinkNotReplaced",
    "ListedKeyNotPresent",
    "Live",
    "MemoryDataStore",
    "OutOfSpace",
    "PathTraversal",
    "Pending",
    "Serialization",
    "Version",
    "VersionError",
    "create_new_datastore",
    "datastore_version",
    "decode_segment",
    "encode_segment",
    "from_json",
    "from_map",
    "from_map_with_prefix",
    "link_datastore",
    "meta_key",
    "publish_datastore",
    "resume_new_datastore",
    "start_new_datastore",
    "to_json",
    "to_pairs",
    "to_pairs_with_prefix",
    "version_from_os_release",
]
