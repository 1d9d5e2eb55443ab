#include "imaging/jpeg2000.h"

#include <openjpeg.h>

#include <cstring>
#include <memory>

namespace consilium::imaging {
namespace {

struct MemoryStream {
    const uint8_t* data;
    size_t size;
    size_t pos;
};

OPJ_SIZE_T readFn(void* buffer, OPJ_SIZE_T bytes, void* user) {
    auto* s = static_cast<MemoryStream*>(user);
    if (s->pos >= s->size) return OPJ_SIZE_T(-1);
    const size_t n = std::min<size_t>(bytes, s->size - s->pos);
    std::memcpy(buffer, s->data + s->pos, n);
    s->pos += n;
    return n;
}

OPJ_OFF_T skipFn(OPJ_OFF_T bytes, void* user) {
    auto* s = static_cast<MemoryStream*>(user);
    if (bytes < 0) {
        const size_t back = std::min<size_t>(size_t(-bytes), s->pos);
        s->pos -= back;
        return -OPJ_OFF_T(back);
    }
    const size_t n = std::min<size_t>(size_t(bytes), s->size - s->pos);
    s->pos += n;
    return OPJ_OFF_T(n);
}

OPJ_BOOL seekFn(OPJ_OFF_T offset, void* user) {
    auto* s = static_cast<MemoryStream*>(user);
    if (offset < 0 || size_t(offset) > s->size) return OPJ_FALSE;
    s->pos = size_t(offset);
    return OPJ_TRUE;
}

void quietHandler(const char*, void*) {}

struct CodecDeleter {
    void operator()(opj_codec_t* c) const { opj_destroy_codec(c); }
};
struct StreamDeleter {
    void operator()(opj_stream_t* s) const { opj_stream_destroy(s); }
};
struct ImageDeleter {
    void operator()(opj_image_t* i) const { opj_image_destroy(i); }
};

}  // namespace

Result<Jpeg2000Image> decodeJpeg2000(const uint8_t* data, size_t size, const std::string& context) {
    auto fail = [&](const char* what) {
        return makeError(ErrorCode::CorruptFile,
                         std::string("JPEG 2000 decode failed (") + what + ") in " + context);
    };
    if (!data || size < 12) return fail("frame is empty or too short");
    static const uint8_t kJp2Signature[12] = {0,   0,   0,    0x0C, 'j',  'P',
                                              ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
    const bool isJp2 = std::memcmp(data, kJp2Signature, sizeof kJp2Signature) == 0;

    std::unique_ptr<opj_codec_t, CodecDeleter> codec(
        opj_create_decompress(isJp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K));
    if (!codec) return fail("cannot create decoder");
    opj_set_info_handler(codec.get(), quietHandler, nullptr);
    opj_set_warning_handler(codec.get(), quietHandler, nullptr);
    opj_set_error_handler(codec.get(), quietHandler, nullptr);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    if (!opj_setup_decoder(codec.get(), &params)) return fail("bad decoder parameters");

    MemoryStream source{data, size, 0};
    std::unique_ptr<opj_stream_t, StreamDeleter> stream(opj_stream_create(64 * 1024, OPJ_TRUE));
    if (!stream) return fail("cannot create stream");
    opj_stream_set_user_data(stream.get(), &source, nullptr);
    opj_stream_set_user_data_length(stream.get(), size);
    opj_stream_set_read_function(stream.get(), readFn);
    opj_stream_set_skip_function(stream.get(), skipFn);
    opj_stream_set_seek_function(stream.get(), seekFn);

    opj_image_t* rawImage = nullptr;
    if (!opj_read_header(stream.get(), codec.get(), &rawImage)) {
        if (rawImage) opj_image_destroy(rawImage);
        return fail("invalid header");
    }
    std::unique_ptr<opj_image_t, ImageDeleter> image(rawImage);
    if (!opj_decode(codec.get(), stream.get(), image.get())) return fail("corrupt codestream");
    if (!opj_end_decompress(codec.get(), stream.get())) return fail("corrupt codestream end");
    if (image->numcomps < 1 || !image->comps[0].data) return fail("no components");

    const opj_image_comp_t& c = image->comps[0];
    Jpeg2000Image out;
    out.width = int(c.w);
    out.height = int(c.h);
    out.components = int(image->numcomps);
    out.precision = int(c.prec);
    out.isSigned = c.sgnd != 0;
    out.samples.assign(c.data, c.data + size_t(c.w) * size_t(c.h));
    return out;
}

}  // namespace consilium::imaging
