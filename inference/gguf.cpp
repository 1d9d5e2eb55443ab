#include "inference/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

namespace consilium::inference {
namespace {

constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;

// Reads bytes from a file (buffered pread) or from memory, never past `size`.
class ByteSource {
  public:
    ByteSource(int fd, uint64_t size) : m_fd(fd), m_size(size) {}
    ByteSource(const uint8_t* mem, uint64_t size) : m_mem(mem), m_size(size) {}

    uint64_t size() const { return m_size; }
    uint64_t pos() const { return m_pos; }
    uint64_t remaining() const { return m_size - m_pos; }

    // False when fewer than n bytes remain (the caller reports truncation) or on I/O error.
    bool read(void* dst, uint64_t n) {
        if (n > remaining()) return false;
        if (m_mem) {
            std::memcpy(dst, m_mem + m_pos, n);
            m_pos += n;
            return true;
        }
        auto* out = static_cast<uint8_t*>(dst);
        while (n > 0) {
            if (m_pos < m_bufStart || m_pos >= m_bufStart + m_buf.size()) {
                if (!fill()) return false;
            }
            const uint64_t inBuf = m_bufStart + m_buf.size() - m_pos;
            const uint64_t take = std::min(n, inBuf);
            std::memcpy(out, m_buf.data() + (m_pos - m_bufStart), take);
            out += take;
            m_pos += take;
            n -= take;
        }
        return true;
    }
    bool ioFailed() const { return m_ioFailed; }

  private:
    bool fill() {
        const uint64_t want = std::min<uint64_t>(1 << 20, m_size - m_pos);
        m_buf.resize(want);
        uint64_t got = 0;
        while (got < want) {
            const ssize_t r = ::pread(m_fd, m_buf.data() + got, want - got, off_t(m_pos + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                m_ioFailed = true;
                return false;
            }
            got += uint64_t(r);
        }
        m_bufStart = m_pos;
        return true;
    }

    int m_fd = -1;
    const uint8_t* m_mem = nullptr;
    uint64_t m_size = 0;
    uint64_t m_pos = 0;
    std::vector<uint8_t> m_buf;
    uint64_t m_bufStart = 0;
    bool m_ioFailed = false;
};

class Parser {
  public:
    Parser(ByteSource& src, std::string name, const GgufLimits& limits)
        : m_src(src), m_name(std::move(name)), m_limits(limits) {}

    Result<GgufHeader> run();

  private:
    Error corrupt(const std::string& what) const {
        return makeError(m_src.ioFailed() ? ErrorCode::IoError : ErrorCode::CorruptModel,
                         m_name + ": " + what + " (at byte " + std::to_string(m_src.pos()) + ")");
    }
    template <typename T>
    bool get(T* v) {
        return m_src.read(v, sizeof(T));
    }
    bool getString(std::string* s, std::string* why) {
        uint64_t len = 0;
        if (!get(&len)) {
            *why = "truncated string length";
            return false;
        }
        if (len > m_limits.maxStringBytes) {
            *why = "string length " + std::to_string(len) + " exceeds the limit";
            return false;
        }
        if (len > m_src.remaining()) {
            *why = "string of " + std::to_string(len) + " bytes runs past the end of the file";
            return false;
        }
        s->resize(len);
        if (!m_src.read(s->data(), len)) {
            *why = "truncated string";
            return false;
        }
        return true;
    }
    bool getScalar(GgufType t, GgufValue* v, std::string* why);
    bool getValue(GgufType t, GgufValue* v, std::string* why);

    ByteSource& m_src;
    std::string m_name;
    GgufLimits m_limits;
};

int scalarBytes(GgufType t) {
    switch (t) {
        case GgufType::U8:
        case GgufType::I8:
        case GgufType::Bool:
            return 1;
        case GgufType::U16:
        case GgufType::I16:
            return 2;
        case GgufType::U32:
        case GgufType::I32:
        case GgufType::F32:
            return 4;
        case GgufType::U64:
        case GgufType::I64:
        case GgufType::F64:
            return 8;
        default:
            return 0;
    }
}

bool Parser::getScalar(GgufType t, GgufValue* v, std::string* why) {
    uint8_t raw[8] = {};
    const int n = scalarBytes(t);
    if (n == 0) {
        *why = "unknown value type " + std::to_string(uint32_t(t));
        return false;
    }
    if (!m_src.read(raw, uint64_t(n))) {
        *why = "truncated value";
        return false;
    }
    auto as = [&](auto x) {
        std::memcpy(&x, raw, sizeof x);
        return x;
    };
    switch (t) {
        case GgufType::U8:
            v->u = as(uint8_t{});
            break;
        case GgufType::I8:
            v->i = as(int8_t{});
            break;
        case GgufType::U16:
            v->u = as(uint16_t{});
            break;
        case GgufType::I16:
            v->i = as(int16_t{});
            break;
        case GgufType::U32:
            v->u = as(uint32_t{});
            break;
        case GgufType::I32:
            v->i = as(int32_t{});
            break;
        case GgufType::U64:
            v->u = as(uint64_t{});
            break;
        case GgufType::I64:
            v->i = as(int64_t{});
            break;
        case GgufType::F32:
            v->f = as(float{});
            break;
        case GgufType::F64:
            v->f = as(double{});
            break;
        case GgufType::Bool:
            if (raw[0] > 1) {
                *why = "bool value " + std::to_string(raw[0]);
                return false;
            }
            v->u = raw[0];
            break;
        default:
            break;
    }
    switch (t) {
        case GgufType::U8:
        case GgufType::U16:
        case GgufType::U32:
        case GgufType::U64:
        case GgufType::Bool:
            v->i = v->u <= uint64_t(INT64_MAX) ? int64_t(v->u) : INT64_MAX;
            v->f = double(v->u);
            break;
        case GgufType::I8:
        case GgufType::I16:
        case GgufType::I32:
        case GgufType::I64:
            v->u = v->i >= 0 ? uint64_t(v->i) : 0;
            v->f = double(v->i);
            break;
        default:
            v->i = int64_t(v->f);
            break;
    }
    return true;
}

bool Parser::getValue(GgufType t, GgufValue* v, std::string* why) {
    v->type = t;
    if (t == GgufType::String) return getString(&v->str, why);
    if (t != GgufType::Array) return getScalar(t, v, why);
    uint32_t et = 0;
    if (!get(&et) || !get(&v->arrayCount)) {
        *why = "truncated array header";
        return false;
    }
    v->arrayType = GgufType(et);
    if (v->arrayType == GgufType::Array) {
        *why = "nested arrays are not supported";
        return false;
    }
    if (v->arrayType != GgufType::String && scalarBytes(v->arrayType) == 0) {
        *why = "array of unknown element type " + std::to_string(et);
        return false;
    }
    const uint64_t minElem =
        v->arrayType == GgufType::String ? 8 : uint64_t(scalarBytes(v->arrayType));
    if (v->arrayCount > m_limits.maxArrayCount || v->arrayCount > m_src.remaining() / minElem) {
        *why = "array count " + std::to_string(v->arrayCount) + " exceeds the file";
        return false;
    }
    if (v->arrayType == GgufType::U8) {
        v->bytes.resize(v->arrayCount);
        if (!m_src.read(v->bytes.data(), v->arrayCount)) {
            *why = "truncated byte array";
            return false;
        }
    } else if (v->arrayType == GgufType::String) {
        v->strings.resize(v->arrayCount);
        for (auto& s : v->strings)
            if (!getString(&s, why)) return false;
    } else {
        v->numbers.resize(v->arrayCount);
        GgufValue e;
        for (auto& x : v->numbers) {
            if (!getScalar(v->arrayType, &e, why)) return false;
            x = e.f;
        }
    }
    return true;
}

Result<GgufHeader> Parser::run() {
    GgufHeader h;
    h.path = m_name;
    h.fileBytes = m_src.size();
    char magic[4];
    if (!m_src.read(magic, 4)) return corrupt("truncated GGUF header (magic)");
    if (std::memcmp(magic, "GGUF", 4) != 0) return corrupt("not a GGUF file (bad magic)");
    uint64_t nTensors = 0, nKv = 0;
    if (!get(&h.version)) return corrupt("truncated GGUF header (version)");
    if (h.version == 1 || h.version == 2) {
        return makeError(ErrorCode::UnsupportedModel,
                         m_name + ": GGUF version " + std::to_string(h.version) +
                             ", only version 3 is read (convert the file)");
    }
    if (h.version != 3)
        return corrupt("GGUF version " + std::to_string(h.version) + " does not exist");
    if (!get(&nTensors) || !get(&nKv)) return corrupt("truncated GGUF header (counts)");
    // Counts beyond the limits are rejected outright; counts the file is too short for are
    // caught as truncation of the region where the file ends. Containers grow as records
    // parse, so a huge count never allocates.
    if (nTensors > m_limits.maxTensors) {
        return corrupt("tensor count " + std::to_string(nTensors) + " exceeds the limit");
    }
    if (nKv > m_limits.maxKv) {
        return corrupt("metadata count " + std::to_string(nKv) + " exceeds the limit");
    }

    std::unordered_set<std::string> keys;
    h.kv.reserve(std::min(nKv, m_src.remaining() / kMinKvBytes));
    for (uint64_t k = 0; k < nKv; ++k) {
        GgufKv& kv = h.kv.emplace_back();
        std::string why;
        const std::string where = "metadata entry " + std::to_string(k);
        if (!getString(&kv.key, &why)) return corrupt(where + " key: " + why);
        uint32_t type = 0;
        if (!get(&type)) return corrupt(where + " '" + kv.key + "': truncated value type");
        if (type > uint32_t(GgufType::F64)) {
            return corrupt(where + " '" + kv.key + "': unknown value type " + std::to_string(type));
        }
        if (!getValue(GgufType(type), &kv.value, &why)) {
            return corrupt(where + " '" + kv.key + "': " + why);
        }
        if (!keys.insert(kv.key).second) return corrupt("duplicate metadata key '" + kv.key + "'");
        if (kv.key == "general.alignment") {
            if (kv.value.type != GgufType::U32) return corrupt("general.alignment is not a u32");
            const uint64_t a = kv.value.u;
            if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 16)) {
                return corrupt("general.alignment " + std::to_string(a) +
                               " is not a power of two <= 65536");
            }
            h.alignment = uint32_t(a);
        }
    }

    std::unordered_set<std::string> names;
    h.tensors.reserve(std::min(nTensors, m_src.remaining() / kMinTensorInfoBytes));
    for (uint64_t t = 0; t < nTensors; ++t) {
        GgufTensorInfo& ti = h.tensors.emplace_back();
        std::string why;
        const std::string where = "tensor " + std::to_string(t);
        if (!getString(&ti.name, &why)) return corrupt(where + " name: " + why);
        const std::string label = where + " '" + ti.name + "'";
        if (ti.name.empty()) return corrupt(where + ": empty name");
        if (!names.insert(ti.name).second)
            return corrupt("duplicate tensor name '" + ti.name + "'");
        uint32_t nDims = 0;
        if (!get(&nDims)) return corrupt(label + ": truncated dimension count");
        if (nDims == 0 || nDims > m_limits.maxDims) {
            return corrupt(label + ": " + std::to_string(nDims) + " dimensions");
        }
        ti.ne.resize(nDims);
        int64_t elements = 1;
        for (uint32_t d = 0; d < nDims; ++d) {
            uint64_t ne = 0;
            if (!get(&ne)) return corrupt(label + ": truncated shape");
            if (ne == 0 || ne > uint64_t(m_limits.maxElements) ||
                uint64_t(elements) > uint64_t(m_limits.maxElements) / ne) {
                return corrupt(label + ": dimension " + std::to_string(d) + " = " +
                               std::to_string(ne) + " is out of range");
            }
            ti.ne[d] = int64_t(ne);
            elements *= int64_t(ne);
        }
        uint32_t type = 0;
        if (!get(&type)) return corrupt(label + ": truncated type");
        if (!kernels::isKnownDType(type)) {
            return corrupt(label + ": unsupported tensor type " + std::to_string(type));
        }
        ti.type = DType(type);
        const int blk = kernels::dtypeBlockElements(ti.type);
        if (ti.ne[0] % blk != 0) {
            return corrupt(label + ": row length " + std::to_string(ti.ne[0]) +
                           " is not a multiple of the " + kernels::dtypeName(ti.type) +
                           " block size");
        }
        ti.bytes = uint64_t(elements / blk) * uint64_t(kernels::dtypeBlockBytes(ti.type));
        if (!get(&ti.offset)) return corrupt(label + ": truncated offset");
        if (ti.offset % h.alignment != 0) {
            return corrupt(label + ": offset " + std::to_string(ti.offset) + " is not aligned to " +
                           std::to_string(h.alignment));
        }
    }

    const uint64_t end = m_src.pos();
    h.dataOffset = (end + h.alignment - 1) / h.alignment * h.alignment;
    if (nTensors > 0 && h.dataOffset > h.fileBytes) {
        return corrupt("file ends before the tensor data section");
    }
    const uint64_t dataBytes = h.fileBytes > h.dataOffset ? h.fileBytes - h.dataOffset : 0;
    std::vector<const GgufTensorInfo*> order;
    order.reserve(h.tensors.size());
    for (const auto& ti : h.tensors) {
        if (ti.offset > dataBytes || ti.bytes > dataBytes - ti.offset) {
            return makeError(ErrorCode::CorruptModel,
                             m_name + ": tensor '" + ti.name + "' (offset " +
                                 std::to_string(ti.offset) + ", " + std::to_string(ti.bytes) +
                                 " bytes) lies outside the file's " + std::to_string(dataBytes) +
                                 "-byte data section (truncated file?)");
        }
        order.push_back(&ti);
    }
    std::sort(order.begin(), order.end(), [](const GgufTensorInfo* a, const GgufTensorInfo* b) {
        return a->offset < b->offset;
    });
    for (size_t i = 1; i < order.size(); ++i) {
        if (order[i - 1]->offset + order[i - 1]->bytes > order[i]->offset) {
            return makeError(ErrorCode::CorruptModel, m_name + ": tensors '" + order[i - 1]->name +
                                                          "' and '" + order[i]->name + "' overlap");
        }
    }
    return h;
}

}  // namespace

bool GgufValue::isNumber() const {
    return type != GgufType::String && type != GgufType::Array;
}

int64_t GgufTensorInfo::elements() const {
    int64_t n = 1;
    for (int64_t d : ne)
        n *= d;
    return n;
}

Result<GgufHeader> parseGgufBytes(const uint8_t* data, uint64_t size, const std::string& name,
                                  const GgufLimits& limits) {
    ByteSource src(data, size);
    return Parser(src, name, limits).run();
}

namespace {
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Result<uint64_t> openForRead(const std::string& path, Fd* fd) {
    fd->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd->fd < 0) {
        return makeError(ErrorCode::IoError, "cannot open " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return makeError(ErrorCode::IoError, path + ": not a regular file");
    }
    return uint64_t(st.st_size);
}
}  // namespace

Result<GgufHeader> parseGguf(const std::string& path, const GgufLimits& limits) {
    Fd fd;
    auto size = openForRead(path, &fd);
    if (!size) return size.error();
    ByteSource src(fd.fd, size.value());
    return Parser(src, path, limits).run();
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path,
                                                 const GgufLimits& limits) {
    Fd fd;
    auto size = openForRead(path, &fd);
    if (!size) return size.error();
    ByteSource src(fd.fd, size.value());
    auto header = Parser(src, path, limits).run();
    if (!header) return header.error();
    std::unique_ptr<GgufFile> file(new GgufFile());
    file->m_header = std::move(header.value());
    if (size.value() > 0) {
        void* p = ::mmap(nullptr, size.value(), PROT_READ, MAP_PRIVATE, fd.fd, 0);
        if (p == MAP_FAILED) {
            return makeError(ErrorCode::IoError,
                             "cannot map " + path + ": " + std::strerror(errno));
        }
        file->m_map = static_cast<const uint8_t*>(p);
        file->m_mapBytes = size.value();
    }
    return file;
}

GgufFile::~GgufFile() {
    if (m_map) ::munmap(const_cast<uint8_t*>(m_map), m_mapBytes);
}

const GgufValue* GgufFile::find(const std::string& key) const {
    for (const auto& kv : m_header.kv)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

Result<std::string> GgufFile::getString(const std::string& key, const std::string& fallback) const {
    const GgufValue* v = find(key);
    if (!v) return fallback;
    if (v->type != GgufType::String) {
        return makeError(ErrorCode::CorruptModel,
                         path() + ": metadata '" + key + "' is not a string");
    }
    return v->str;
}

Result<int64_t> GgufFile::getInt(const std::string& key, int64_t fallback) const {
    const GgufValue* v = find(key);
    if (!v) return fallback;
    if (!v->isNumber() || v->type == GgufType::F32 || v->type == GgufType::F64) {
        return makeError(ErrorCode::CorruptModel,
                         path() + ": metadata '" + key + "' is not an integer");
    }
    return v->i;
}

Result<double> GgufFile::getFloat(const std::string& key, double fallback) const {
    const GgufValue* v = find(key);
    if (!v) return fallback;
    if (!v->isNumber()) {
        return makeError(ErrorCode::CorruptModel,
                         path() + ": metadata '" + key + "' is not a number");
    }
    return v->f;
}

Result<int64_t> GgufFile::requireInt(const std::string& key) const {
    if (!find(key))
        return makeError(ErrorCode::CorruptModel, path() + ": missing metadata '" + key + "'");
    return getInt(key, 0);
}

Result<double> GgufFile::requireFloat(const std::string& key) const {
    if (!find(key))
        return makeError(ErrorCode::CorruptModel, path() + ": missing metadata '" + key + "'");
    return getFloat(key, 0);
}

const GgufTensorInfo* GgufFile::findTensor(const std::string& name) const {
    for (const auto& t : m_header.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

bool isKnownArchitecture(const std::string& arch) {
    return arch == "llama" || arch == "consilium";
}

}  // namespace consilium::inference
