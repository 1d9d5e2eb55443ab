// The CUDA plugin's C ABI on any machine: it loads through the app's dlopen path, its
// version matches, its table is complete, and without a GPU every entry point fails with
// a status and a message instead of aborting. (Numerical parity: test_cuda_parity, gpu.)
#include <QtTest>

#include <cstring>
#include <string>

#include "inference/device.h"
#include "kernels/cuda/plugin_api.h"

using namespace consilium;

class TestCudaPlugin : public QObject {
    Q_OBJECT
  private slots:
    void loadsAndReportsWithoutAborting() {
        const auto& probe =
            inference::probeCuda(CONSILIUM_BINARY_DIR "/lib/consilium/libconsilium_cuda.so");
        if (!probe.pluginBuilt) QSKIP("this build has no CUDA plugin");
        QVERIFY2(probe.pluginLoaded, probe.loadError.c_str());
        const ConsiliumCudaPlugin* api = probe.api;
        QVERIFY(api != nullptr);
        QCOMPARE(api->abi_version, uint32_t(CONSILIUM_CUDA_PLUGIN_ABI));
        QVERIFY(std::string(api->build_info()).find("sm ") != std::string::npos);

        // Every entry of the table is filled (the struct is all function pointers after
        // the version; a missing initialiser would leave a null).
        const auto* first = reinterpret_cast<const char*>(&api->build_info);
        const auto* end = reinterpret_cast<const char*>(api + 1);
        for (const char* p = first; p < end; p += sizeof(void*)) {
            void* fn = nullptr;
            std::memcpy(&fn, p, sizeof fn);
            QVERIFY2(fn != nullptr, "null entry in the plugin table");
        }

        // Null context: a status, not a crash.
        float f = 0.0f;
        QCOMPARE(api->gelu(nullptr, nullptr, &f, &f, 1), CONSILIUM_CUDA_ERR_INVALID_ARGUMENT);
        QCOMPARE(api->alloc(nullptr, 16, nullptr), CONSILIUM_CUDA_ERR_INVALID_ARGUMENT);
        QVERIFY(std::string(api->last_error(nullptr)).size() > 0);
        api->context_destroy(nullptr);

        // Scratch sizes: Q4_0 GEMV quantises the activations (int8 + a float per 32).
        QVERIFY(api->matmul_scratch_bytes(CONSILIUM_CUDA_Q4_0, 4096, 1) >= 4096 + 128 * 4);
        QCOMPARE(api->matmul_scratch_bytes(CONSILIUM_CUDA_F16, 4096, 16), uint64_t(4096 * 16 * 2));
        QCOMPARE(api->matmul_scratch_bytes(CONSILIUM_CUDA_F32, 4096, 16), uint64_t(0));

        ConsiliumCudaContext* ctx = nullptr;
        char err[512] = {};
        const int rc = api->context_create(0, &ctx, err, sizeof err);
        if (probe.gpus.empty()) {
            QCOMPARE(rc, CONSILIUM_CUDA_ERR_NO_DEVICE);
            QVERIFY(ctx == nullptr);
            QVERIFY2(std::string(err).size() > 0, "no message for a missing GPU");
        } else {
            QCOMPARE(rc, CONSILIUM_CUDA_OK);
            QVERIFY(ctx != nullptr);
            api->context_destroy(ctx);
        }
    }

    void statusMapsToEngineErrors() {
        QCOMPARE(inference::cudaPluginError(CONSILIUM_CUDA_ERR_OUT_OF_MEMORY, "x").code,
                 ErrorCode::OutOfDeviceMemory);
        QCOMPARE(inference::cudaPluginError(CONSILIUM_CUDA_ERR_NO_DEVICE, "x").code,
                 ErrorCode::NoGpu);
        QCOMPARE(inference::cudaPluginError(CONSILIUM_CUDA_ERR_INVALID_ARGUMENT, "x").code,
                 ErrorCode::InvalidArgument);
        QCOMPARE(inference::cudaPluginError(CONSILIUM_CUDA_ERR_CUDA, "launch").message,
                 std::string("CUDA: launch"));
    }
};

QTEST_GUILESS_MAIN(TestCudaPlugin)
#include "test_cuda_plugin.moc"
