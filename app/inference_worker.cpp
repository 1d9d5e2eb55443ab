#include "app/inference_worker.h"

namespace consilium::app {

void InferenceWorker::ask(int requestId, const AskRequest& request) {
    m_cancel.store(false);
    auto outcome = askQuestion(
        request,
        [this, requestId](const QString& piece) {
            emit tokenReady(requestId, piece);
            return !m_cancel.load();
        },
        &m_cancel, m_context.get(),
        [this, requestId](AskStage stage) { emit stageChanged(requestId, int(stage)); });
    if (outcome.ok()) {
        emit answerReady(requestId, outcome.value().json, outcome.value().notes);
    } else {
        const auto& e = outcome.error();
        emit failed(requestId, QString::fromStdString(e.message), e.code == ErrorCode::Cancelled);
    }
}

InferenceThread::InferenceThread(QObject* parent) : QObject(parent) {
    qRegisterMetaType<consilium::app::AskRequest>();
    m_thread.setObjectName("consilium-inference");
    m_worker = new InferenceWorker(m_context);
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(this, &InferenceThread::requestQueued, m_worker, &InferenceWorker::ask,
            Qt::QueuedConnection);
    m_thread.start();
}

InferenceThread::~InferenceThread() {
    m_worker->cancel();
    m_thread.quit();
    m_thread.wait();
}

int InferenceThread::ask(const AskRequest& request) {
    const int id = m_nextId++;
    emit requestQueued(id, request);
    return id;
}

void InferenceThread::cancel() {
    m_worker->cancel();
}

}  // namespace consilium::app
