#include "app/record_token_counter.h"

#include <QMetaObject>
#include <QtConcurrent>

#include <mutex>

#include "app/resource_paths.h"
#include "inference/consilium_engine.h"

namespace consilium::app {

struct RecordTokenCounter::Cache {
    std::mutex mutex;
    std::string path;
    std::shared_ptr<inference::ConsiliumEngine> engine;
};

RecordTokenCounter::RecordTokenCounter(QObject* parent)
    : QObject(parent),
      m_cache(std::make_shared<Cache>()),
      m_latest(std::make_shared<std::atomic<int>>(0)) {
    m_pool.setMaxThreadCount(1);
}

RecordTokenCounter::~RecordTokenCounter() {
    m_pool.waitForDone();  // queued results addressed to this object are then dropped
}

void RecordTokenCounter::count(const QString& modelFile, const QString& text) {
    const int request = ++*m_latest;
    auto cache = m_cache;
    auto latest = m_latest;
    const std::string file = modelFile.toStdString();
    const std::string utf8 = text.toStdString();
    (void)QtConcurrent::run(&m_pool, [this, cache, latest, request, file, utf8] {
        if (latest->load() != request) return;  // a newer text is waiting
        std::vector<std::string> searched;
        const std::string path = locateModel(file, &searched);
        std::shared_ptr<inference::ConsiliumEngine> engine;
        QString error;
        {
            std::lock_guard<std::mutex> lock(cache->mutex);
            if (cache->path != path || !cache->engine) {
                cache->engine.reset();
                cache->path = path;
                if (path.empty()) {
                    error = QStringLiteral("no consilium model found");
                } else {
                    auto opened = inference::ConsiliumEngine::open(path);
                    if (opened)
                        cache->engine = opened.value();
                    else
                        error = QString::fromStdString(opened.error().message);
                }
            }
            engine = cache->engine;
        }
        if (!engine) {
            if (error.isEmpty()) error = QStringLiteral("the model could not be opened");
            QMetaObject::invokeMethod(this, [this, error] { emit failed(error); });
            return;
        }
        const int tokens = int(engine->tokenizer().encodeWithBos(utf8).size());
        const int limit = int(engine->model().config().textMaxTokens);
        QMetaObject::invokeMethod(this, [this, latest, request, tokens, limit] {
            if (latest->load() == request) emit counted(tokens, limit);
        });
    });
}

}  // namespace consilium::app
