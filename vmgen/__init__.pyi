"""Types of vmgen's public API (API.md)."""
from . import mof as mof
from .counter import BackendInfo as BackendInfo
from .counter import Counter as Counter
from .counter import Generation as Generation
from .counter import Subscription as Subscription
from .counter import backends as backends
from .counter import open as open
from .errors import BufferTooShort as BufferTooShort
from .errors import CounterClosed as CounterClosed
from .errors import DeviceNotFound as DeviceNotFound
from .errors import GenerationChanged as GenerationChanged
from .errors import LayoutError as LayoutError
from .errors import MofError as MofError
from .errors import NotSupported as NotSupported
from .errors import VmgenError as VmgenError
from .versions import decode_version as decode_version
from .versions import encode_version as encode_version
from .views import IMPLEMENTATION as IMPLEMENTATION
from .views import FeatureSettings as FeatureSettings
from .views import NicSaveState as NicSaveState
from .views import PortPropertyParameters as PortPropertyParameters
from .views import PropertyCustom as PropertyCustom
from .views import SwitchPropertyParameters as SwitchPropertyParameters

__version__: str
