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
from .switch.versions import decode_version as decode_version
from .switch.versions import encode_version as encode_version
from .switch import IMPLEMENTATION as IMPLEMENTATION
from .switch import FeatureSettings as FeatureSettings
from .switch import NicSaveState as NicSaveState
from .switch import PortPropertyParameters as PortPropertyParameters
from .switch import PropertyCustom as PropertyCustom
from .switch import SwitchPropertyParameters as SwitchPropertyParameters

__version__: str
