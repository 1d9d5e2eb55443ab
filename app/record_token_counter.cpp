#include "app/record_token_counter.h"

#include <QMetaObject>
#include <QtConcurrent>

#include "inference/consilium_engine.h"

namespace consilium::app {

RecordTokenCounter::RecordTokenCounter(std::shared_ptr<AskContext> context, QObject* parent)
    : QObject(parent),
      m_context(std::move(context)),
      m_latest(std::make_shared<std::atomic<int>>(0)) {
    m_pool.setMaxThreadCount(1);
}

RecordTokenCounter::~RecordTokenCounter() {
    m_pool.waitForDone();  // queued results addressed to this object are then dropped
}

void RecordTokenCounter::count(const QString& modelFile, const QString& text) {
    const int request = ++*m_latest;
    auto context = m_context;
    auto latest = m_latest;
    const std::string file = modelFile.toStdString();
    const std::string utf8 = text.toStdString();
    (void)QtConcurrent::run(&m_pool, [this, context, latest, request, file, utf8] {
        if (latest->load() != request) return;  // a newer text is waiting
        std::string path;
        auto opened = context->locateEngine(QString::fromStdString(file), &path);
        std::shared_ptr<inference::ConsiliumEngine> engine;
        QString error;
        if (opened)
            engine = opened.value();
        else
            error = QString::fromStdString(opened.error().message);
        if (!engine) {
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
