#include "kernels/status.h"

namespace consilium {

const char* errorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::InvalidArgument:
            return "InvalidArgument";
        case ErrorCode::NotFound:
            return "NotFound";
        case ErrorCode::IoError:
            return "IoError";
        case ErrorCode::CorruptFile:
            return "CorruptFile";
        case ErrorCode::CorruptModel:
            return "CorruptModel";
        case ErrorCode::UnsupportedModel:
            return "UnsupportedModel";
        case ErrorCode::UnsupportedTransferSyntax:
            return "UnsupportedTransferSyntax";
        case ErrorCode::NoGpu:
            return "NoGpu";
        case ErrorCode::PluginLoadFailed:
            return "PluginLoadFailed";
        case ErrorCode::OutOfMemory:
            return "OutOfMemory";
        case ErrorCode::OutOfDeviceMemory:
            return "OutOfDeviceMemory";
        case ErrorCode::NoAudioDevice:
            return "NoAudioDevice";
        case ErrorCode::AudioDeviceLost:
            return "AudioDeviceLost";
        case ErrorCode::Cancelled:
            return "Cancelled";
        case ErrorCode::Internal:
            return "Internal";
    }
    return "Unknown";
}

}  // namespace consilium
