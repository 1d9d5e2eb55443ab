#include "imaging/jpeg_ls.h"

#include <charls/charls.h>
#include <dlfcn.h>

#include <memory>
#include <mutex>

namespace consilium::imaging {
namespace {

// CharLS 2 is opened with dlopen(RTLD_LOCAL) rather than linked: it exports the legacy
// JpegLsEncode/JpegLsDecode names that DCMTK's libdcmtkcharls (CharLS 1.0, other structs)
// also exports, and a linked libcharls.so.2 would take over DCMTK's own calls (a crash in
// DJLSEncoderBase). Only the charls_* C functions below are looked up, in this handle.
struct CharLs {
    decltype(&charls_jpegls_decoder_create) create = nullptr;
    decltype(&charls_jpegls_decoder_destroy) destroy = nullptr;
    decltype(&charls_jpegls_decoder_set_source_buffer) setSource = nullptr;
    decltype(&charls_jpegls_decoder_read_header) readHeader = nullptr;
    decltype(&charls_jpegls_decoder_get_frame_info) frameInfo = nullptr;
    decltype(&charls_jpegls_decoder_get_interleave_mode) interleaveMode = nullptr;
    decltype(&charls_jpegls_decoder_get_destination_size) destinationSize = nullptr;
    decltype(&charls_jpegls_decoder_decode_to_buffer) decode = nullptr;
    decltype(&charls_get_error_message) errorMessage = nullptr;
    bool ok = false;
};

const CharLs& charLs() {
    static CharLs lib;
    static std::once_flag once;
    std::call_once(once, [] {
        void* h = dlopen("libcharls.so.2", RTLD_NOW | RTLD_LOCAL);
        if (!h) return;
        auto get = [h](auto* fn, const char* name) {
            *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(dlsym(h, name));
            return *fn != nullptr;
        };
        lib.ok = get(&lib.create, "charls_jpegls_decoder_create") &&
                 get(&lib.destroy, "charls_jpegls_decoder_destroy") &&
                 get(&lib.setSource, "charls_jpegls_decoder_set_source_buffer") &&
                 get(&lib.readHeader, "charls_jpegls_decoder_read_header") &&
                 get(&lib.frameInfo, "charls_jpegls_decoder_get_frame_info") &&
                 get(&lib.interleaveMode, "charls_jpegls_decoder_get_interleave_mode") &&
                 get(&lib.destinationSize, "charls_jpegls_decoder_get_destination_size") &&
                 get(&lib.decode, "charls_jpegls_decoder_decode_to_buffer") &&
                 get(&lib.errorMessage, "charls_get_error_message");
    });
    return lib;
}

Error failure(const CharLs& lib, charls_jpegls_errc code, const std::string& context) {
    return makeError(ErrorCode::CorruptFile, std::string("JPEG-LS decode failed (") +
                                                 lib.errorMessage(code) + ") in " + context);
}

}  // namespace

bool jpegLsDecoderAvailable() {
    return charLs().ok;
}

Result<JpegLsFrame> decodeJpegLs(const uint8_t* data, size_t size, std::vector<uint8_t>* samples,
                                 const std::string& context) {
    const CharLs& lib = charLs();
    if (!lib.ok)
        return makeError(ErrorCode::UnsupportedTransferSyntax,
                         "JPEG-LS decoder libcharls.so.2 is not available for " + context);
    auto destroy = [&lib](charls_jpegls_decoder* d) { lib.destroy(d); };
    std::unique_ptr<charls_jpegls_decoder, decltype(destroy)> decoder(lib.create(), destroy);
    if (!decoder) return makeError(ErrorCode::OutOfMemory, "no memory for a JPEG-LS decoder");
    using charls::jpegls_errc;
    if (auto e = lib.setSource(decoder.get(), data, size); e != jpegls_errc::success)
        return failure(lib, e, context);
    if (auto e = lib.readHeader(decoder.get()); e != jpegls_errc::success)
        return failure(lib, e, context);
    charls_frame_info info{};
    if (auto e = lib.frameInfo(decoder.get(), &info); e != jpegls_errc::success)
        return failure(lib, e, context);
    charls_interleave_mode mode{};
    if (auto e = lib.interleaveMode(decoder.get(), &mode); e != jpegls_errc::success)
        return failure(lib, e, context);
    if (info.width == 0 || info.height == 0 || info.width > 65535 || info.height > 65535 ||
        info.component_count < 1 || info.component_count > 4)
        return makeError(ErrorCode::CorruptFile, "JPEG-LS frame of " + std::to_string(info.width) +
                                                     "x" + std::to_string(info.height) + "x" +
                                                     std::to_string(info.component_count) +
                                                     " samples in " + context);
    size_t bytes = 0;
    if (auto e = lib.destinationSize(decoder.get(), 0, &bytes); e != jpegls_errc::success)
        return failure(lib, e, context);
    samples->resize(bytes);
    if (auto e = lib.decode(decoder.get(), samples->data(), bytes, 0); e != jpegls_errc::success)
        return failure(lib, e, context);
    JpegLsFrame frame;
    frame.width = int(info.width);
    frame.height = int(info.height);
    frame.components = info.component_count;
    frame.bitsPerSample = info.bits_per_sample;
    frame.planar = info.component_count > 1 && mode == charls::interleave_mode::none;
    return frame;
}

}  // namespace consilium::imaging
