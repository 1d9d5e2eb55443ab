#include "kernels/cpu/ops.h"

namespace consilium::kernels {

bool embeddingLookup(const MatrixView& table, const int32_t* ids, int64_t n, float* y) {
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) {
        if (ids[i] < 0 || ids[i] >= table.rows) {
            ok = false;
            continue;
        }
        dequantizeRow(table.type, table.row(ids[i]), y + i * table.cols, table.cols);
    }
    return ok;
}

}  // namespace consilium::kernels
