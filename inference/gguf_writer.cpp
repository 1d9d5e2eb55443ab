#include "inference/gguf_writer.h"

#include <cstdio>
#include <cstring>
#include <memory>

namespace consilium::inference {
namespace {

template <typename T>
void append(std::vector<uint8_t>* out, T v) {
    const size_t at = out->size();
    out->resize(at + sizeof(T));
    std::memcpy(out->data() + at, &v, sizeof(T));
}

void appendString(std::vector<uint8_t>* out, const std::string& s) {
    append<uint64_t>(out, s.size());
    const size_t at = out->size();
    out->resize(at + s.size());
    if (!s.empty()) std::memcpy(out->data() + at, s.data(), s.size());
}

}  // namespace

void GgufWriter::put(const std::string& key, std::vector<uint8_t> encoded) {
    for (auto& kv : m_kv) {
        if (kv.key == key) {
            kv.encoded = std::move(encoded);
            return;
        }
    }
    m_kv.push_back({key, std::move(encoded)});
}

void GgufWriter::setU32(const std::string& key, uint32_t v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::U32));
    append(&e, v);
    if (key == "general.alignment" && v != 0 && (v & (v - 1)) == 0) m_alignment = v;
    put(key, std::move(e));
}

void GgufWriter::setI32(const std::string& key, int32_t v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::I32));
    append(&e, v);
    put(key, std::move(e));
}

void GgufWriter::setU64(const std::string& key, uint64_t v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::U64));
    append(&e, v);
    put(key, std::move(e));
}

void GgufWriter::setF32(const std::string& key, float v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::F32));
    append(&e, v);
    put(key, std::move(e));
}

void GgufWriter::setBool(const std::string& key, bool v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::Bool));
    append<uint8_t>(&e, v ? 1 : 0);
    put(key, std::move(e));
}

void GgufWriter::setString(const std::string& key, const std::string& v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::String));
    appendString(&e, v);
    put(key, std::move(e));
}

void GgufWriter::setStringArray(const std::string& key, const std::vector<std::string>& v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::Array));
    append<uint32_t>(&e, uint32_t(GgufType::String));
    append<uint64_t>(&e, v.size());
    for (const auto& s : v)
        appendString(&e, s);
    put(key, std::move(e));
}

void GgufWriter::setF32Array(const std::string& key, const std::vector<float>& v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::Array));
    append<uint32_t>(&e, uint32_t(GgufType::F32));
    append<uint64_t>(&e, v.size());
    for (float x : v)
        append(&e, x);
    put(key, std::move(e));
}

void GgufWriter::setI32Array(const std::string& key, const std::vector<int32_t>& v) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::Array));
    append<uint32_t>(&e, uint32_t(GgufType::I32));
    append<uint64_t>(&e, v.size());
    for (int32_t x : v)
        append(&e, x);
    put(key, std::move(e));
}

void GgufWriter::setU8Array(const std::string& key, const std::string& bytes) {
    std::vector<uint8_t> e;
    append<uint32_t>(&e, uint32_t(GgufType::Array));
    append<uint32_t>(&e, uint32_t(GgufType::U8));
    append<uint64_t>(&e, bytes.size());
    const size_t at = e.size();
    e.resize(at + bytes.size());
    if (!bytes.empty()) std::memcpy(e.data() + at, bytes.data(), bytes.size());
    put(key, std::move(e));
}

void GgufWriter::addTensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                           const void* data, size_t bytes) {
    const auto* p = static_cast<const uint8_t*>(data);
    m_tensors.push_back({name, type, ne, std::vector<uint8_t>(p, p + bytes)});
}

void GgufWriter::addTensorF32(const std::string& name, DType type, const std::vector<int64_t>& ne,
                              const std::vector<float>& values) {
    const int64_t rowLen = ne.empty() ? 0 : ne[0];
    const int64_t rows = rowLen == 0 ? 0 : int64_t(values.size()) / rowLen;
    const size_t rowBytes = kernels::dtypeRowBytes(type, rowLen);
    std::vector<uint8_t> data(rowBytes * size_t(rows));
    for (int64_t r = 0; r < rows; ++r) {
        kernels::convertRow(type, values.data() + r * rowLen, data.data() + size_t(r) * rowBytes,
                            rowLen);
    }
    m_tensors.push_back({name, type, ne, std::move(data)});
}

std::vector<uint8_t> GgufWriter::serialize(GgufLayout* layout) const {
    GgufLayout l;
    std::vector<uint8_t> out;
    append<uint32_t>(&out, 0x46554747u);  // "GGUF" little-endian
    append<uint32_t>(&out, 3);
    append<uint64_t>(&out, m_tensors.size());
    append<uint64_t>(&out, m_kv.size());
    l.kvStart = out.size();
    for (const auto& kv : m_kv) {
        l.kvOffsets.push_back(out.size());
        appendString(&out, kv.key);
        const size_t at = out.size();
        out.resize(at + kv.encoded.size());
        std::memcpy(out.data() + at, kv.encoded.data(), kv.encoded.size());
    }
    l.tensorInfoStart = out.size();
    const uint64_t a = m_alignment;
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const auto& t : m_tensors) {
        l.tensorInfoOffsets.push_back(out.size());
        appendString(&out, t.name);
        append<uint32_t>(&out, uint32_t(t.ne.size()));
        for (int64_t d : t.ne)
            append<uint64_t>(&out, uint64_t(d));
        append<uint32_t>(&out, uint32_t(t.type));
        l.tensorOffsetFields.push_back(out.size());
        append<uint64_t>(&out, offset);
        offsets.push_back(offset);
        offset = (offset + t.data.size() + a - 1) / a * a;
    }
    l.dataStart = (out.size() + a - 1) / a * a;
    out.resize(l.dataStart +
               (m_tensors.empty() ? 0 : offsets.back() + m_tensors.back().data.size()));
    for (size_t i = 0; i < m_tensors.size(); ++i) {
        std::memcpy(out.data() + l.dataStart + offsets[i], m_tensors[i].data.data(),
                    m_tensors[i].data.size());
    }
    if (layout) *layout = l;
    return out;
}

Status GgufWriter::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = serialize();
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) return makeError(ErrorCode::IoError, "cannot create " + path);
    if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) {
        return makeError(ErrorCode::IoError, "cannot write " + path);
    }
    if (std::fclose(f.release()) != 0) return makeError(ErrorCode::IoError, "cannot close " + path);
    return Status::success();
}

}  // namespace consilium::inference
