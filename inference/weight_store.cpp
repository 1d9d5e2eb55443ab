#include "inference/weight_store.h"

namespace consilium::inference {
namespace {

std::string shapeString(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
        out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

}  // namespace

Result<std::unique_ptr<WeightStore>> WeightStore::open(const std::string& path) {
    auto file = GgufFile::open(path);
    if (!file) return file.error();
    std::unique_ptr<WeightStore> store(new WeightStore());
    store->m_file = std::move(file.value());
    return store;
}

Result<TensorView> WeightStore::getOptional(const std::string& name,
                                            const std::vector<int64_t>& shape) const {
    const GgufTensorInfo* t = m_file->findTensor(name);
    if (!t) return TensorView{};
    if (!shape.empty() && t->ne != shape) {
        return makeError(ErrorCode::CorruptModel, path() + ": tensor '" + name + "' has shape " +
                                                      shapeString(t->ne) + ", expected " +
                                                      shapeString(shape));
    }
    TensorView v;
    v.type = t->type;
    v.dims = int(t->ne.size());
    for (int i = 0; i < v.dims; ++i)
        v.shape[size_t(i)] = t->ne[size_t(i)];
    v.strides[0] = size_t(kernels::dtypeBlockBytes(t->type));
    v.strides[1] = kernels::dtypeRowBytes(t->type, v.shape[0]);
    for (size_t i = 2; i < 4; ++i)
        v.strides[i] = v.strides[i - 1] * size_t(v.shape[i - 1]);
    v.data = m_file->tensorData(*t);
    v.name = name;
    return v;
}

Result<TensorView> WeightStore::get(const std::string& name,
                                    const std::vector<int64_t>& shape) const {
    auto v = getOptional(name, shape);
    if (v.ok() && !v->valid()) {
        return makeError(ErrorCode::CorruptModel, path() + ": missing tensor '" + name + "'");
    }
    return v;
}

Result<TensorView> WeightStore::getF32(const std::string& name,
                                       const std::vector<int64_t>& shape) const {
    auto v = get(name, shape);
    if (v.ok() && v->type != DType::F32) {
        return makeError(ErrorCode::UnsupportedModel, path() + ": tensor '" + name + "' is " +
                                                          kernels::dtypeName(v->type) +
                                                          ", expected F32");
    }
    return v;
}

}  // namespace consilium::inference
