"""Lambda's control plane for the local Lambda: functions and layers over HTTP, persisted on disk.

``add_control_plane_routes(app, store, on_change)`` mounts CreateFunction, UpdateFunctionCode,
UpdateFunctionConfiguration, GetFunction, GetFunctionConfiguration, ListFunctions, DeleteFunction,
PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers, ListLayerVersions and
DeleteLayerVersion on an aiohttp app, so boto3 and ``aws lambda … --endpoint-url`` work unchanged.
:func:`function_config` turns a deployed function into the local Lambda's function configuration.
"""

from lamina.local.api.control_plane.errors import ServiceError
from lamina.local.api.control_plane.routes import CONTROL_PLANE_KEY, add_control_plane_routes
from lamina.local.api.control_plane.service import ControlPlane
from lamina.local.api.control_plane.store import Code, FunctionRecord, FunctionStore, LayerVersionRecord

__all__ = [
    "CONTROL_PLANE_KEY",
    "Code",
    "ControlPlane",
    "FunctionRecord",
    "FunctionStore",
    "LayerVersionRecord",
    "ServiceError",
    "add_control_plane_routes",
]
