// kerec/eei/model.hpp — EEIModel<Scalar>: the Entity-Entity-Item weight decision model.
//
// The paper's E-E-I model scores a complementary exposure (trigger entity t, candidate entity c,
// item i) from the entities' representations and the edge. Input (dimension 3d + 2 + f):
//   x = [h(t), h(c), h(t) ⊙ h(c), w(t, c), p_llm(t, c), features(i)],  standardised per column
// → MLP (hidden widths configurable, ReLU) → logit z; p(click) = σ(z). Trained (stage 1 of the
// two-stage scheme) with mean binary cross-entropy + (λ/2)‖W‖² by mini-batch Adam, early stopping
// on validation AUC (the best epoch's weights are kept). Forward/backward are batched Eigen GEMMs:
// O(n · Σ_l in_l · out_l) per batch. Files (save/load) are written atomically and validated
// (magic, version, scalar size, dimensions, size, CRC-32C). NaN/Inf inputs are rejected with an
// error naming the sample and the feature.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <fmt/format.h>

#include "kerec/core/auc.hpp"
#include "kerec/core/checksum.hpp"
#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"
#include "kerec/core/npy.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/random.hpp"
#include "kerec/eei/samples.hpp"
#include "kerec/embed/entity_embeddings.hpp"

namespace kerec {

struct EEIConfig {
    std::vector<std::size_t> hidden = {64, 32};  ///< hidden layer widths (ReLU); empty = logistic regression
    double learning_rate = 1e-3;                 ///< Adam step size
    double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
    double l2 = 1e-5;                            ///< λ on the weights (not the biases)
    std::size_t batch_size = 256;
    std::size_t max_epochs = 30;
    std::size_t patience = 3;  ///< stop after this many epochs without a better validation AUC
    std::uint64_t seed = 1;    ///< initial weights and the shuffling

    void validate() const {
        for (std::size_t w : hidden)
            if (w == 0 || w > 65536) throw InvalidArgument(fmt::format("EEIConfig: hidden width {} (expected 1 .. 65536)", w));
        if (!(learning_rate > 0.0) || !std::isfinite(learning_rate))
            throw InvalidArgument(fmt::format("EEIConfig: learning_rate = {} (expected > 0)", learning_rate));
        if (!(l2 >= 0.0) || !std::isfinite(l2)) throw InvalidArgument(fmt::format("EEIConfig: l2 = {} (expected >= 0)", l2));
        if (batch_size == 0) throw InvalidArgument("EEIConfig: batch_size = 0 (expected >= 1)");
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && epsilon > 0))
            throw InvalidArgument("EEIConfig: Adam betas must be in [0, 1) and epsilon > 0");
    }
};

/// What fit() did.
struct EEIFitReport {
    std::size_t epochs = 0;      ///< epochs run
    std::size_t best_epoch = 0;  ///< 1-based epoch whose weights were kept
    double best_valid_auc = 0.0; ///< NaN when there was no validation set
    std::vector<double> train_loss, valid_auc;  ///< per epoch
};

/// Everything one forward/backward pass needs (reuse it: no allocation once sized).
template <class Scalar>
struct EEIWorkspace {
    std::vector<RowMatrix<Scalar>> act;   // act[0] = standardised input, act[l] = layer l output
    std::vector<RowMatrix<Scalar>> grad;  // d loss / d act[l]
    RowMatrix<Scalar> input;              // raw assembled inputs
};

template <class Scalar = float>
class EEIModel {
    static_assert(std::is_floating_point_v<Scalar>, "EEIModel<Scalar>: Scalar is float or double");

public:
    using scalar_type = Scalar;
    using Matrix = RowMatrix<Scalar>;
    using Workspace = EEIWorkspace<Scalar>;
    static constexpr char magic[8] = {'K', 'E', 'R', 'E', 'C', 'E', 'E', 'I'};
    static constexpr std::uint32_t format_version = 1;

    EEIModel() = default;
    /// A freshly initialised model for embeddings of `embedding_dim` and `feature_dim` item features.
    EEIModel(std::size_t embedding_dim, std::size_t feature_dim, EEIConfig config = {})
        : d_(embedding_dim), f_(feature_dim), cfg_(std::move(config)) {
        cfg_.validate();
        if (d_ == 0 || d_ > (1u << 20) || f_ > (1u << 20))
            throw InvalidArgument(fmt::format("EEIModel: embedding_dim {} / feature_dim {} (expected 1..2^20 / 0..2^20)", d_, f_));
        layout();
        mean_.assign(input_dim(), Scalar(0));
        inv_std_.assign(input_dim(), Scalar(1));
        Rng rng(cfg_.seed);
        for (std::size_t l = 0; l < layers(); ++l) {  // He initialisation, zero biases
            const double sd = std::sqrt(2.0 / static_cast<double>(width(l)));
            for (std::size_t k = 0; k < width(l + 1) * width(l); ++k) params_[w_off_[l] + k] = static_cast<Scalar>(sd * rng.normal());
        }
    }

    std::size_t embedding_dim() const noexcept { return d_; }
    std::size_t feature_dim() const noexcept { return f_; }
    std::size_t input_dim() const noexcept { return 3 * d_ + 2 + f_; }
    const EEIConfig& config() const noexcept { return cfg_; }
    std::size_t layers() const noexcept { return widths_.empty() ? 0 : widths_.size() - 1; }
    std::size_t parameter_count() const noexcept { return params_.size(); }
    /// Every weight and bias, flat (layer by layer: W_l row-major out × in, then b_l).
    std::span<Scalar> parameters() noexcept { return params_; }
    std::span<const Scalar> parameters() const noexcept { return params_; }
    /// Per-column standardisation of the input: x' = (x − mean) · inv_std (set by fit()).
    std::span<const Scalar> input_mean() const noexcept { return mean_; }
    std::span<const Scalar> input_inv_std() const noexcept { return inv_std_; }

    /// Name of input column k ("h(src)[3]", "edge_weight", "item_features[0]", …).
    std::string feature_name(std::size_t k) const {
        if (k < d_) return fmt::format("h(src)[{}]", k);
        if (k < 2 * d_) return fmt::format("h(tgt)[{}]", k - d_);
        if (k < 3 * d_) return fmt::format("h(src)*h(tgt)[{}]", k - 2 * d_);
        if (k == 3 * d_) return "edge_weight";
        if (k == 3 * d_ + 1) return "llm_confidence";
        return fmt::format("item_features[{}]", k - 3 * d_ - 2);
    }

    /// Writes one raw input row (input_dim() values) into `out`. `index` names the sample in errors.
    void write_input(const EntityEmbeddings<Scalar>& h, EntityId src, EntityId tgt, float edge_weight, float llm_confidence,
                     std::span<const float> features, Scalar* out, std::size_t index) const {
        check_embeddings(h);
        if (!src.valid() || src.index() >= h.size() || !tgt.valid() || tgt.index() >= h.size())
            throw OutOfRange(fmt::format("EEIModel: sample {}: entities {} -> {} (expected < {} embeddings)", index, src, tgt, h.size()));
        if (features.size() != f_)
            throw InvalidArgument(fmt::format("EEIModel: sample {}: {} item features (expected {})", index, features.size(), f_));
        const Scalar* a = h.matrix().data() + src.index() * d_;
        const Scalar* b = h.matrix().data() + tgt.index() * d_;
        std::memcpy(out, a, d_ * sizeof(Scalar));
        std::memcpy(out + d_, b, d_ * sizeof(Scalar));
        for (std::size_t k = 0; k < d_; ++k) out[2 * d_ + k] = a[k] * b[k];
        out[3 * d_] = static_cast<Scalar>(edge_weight);
        out[3 * d_ + 1] = static_cast<Scalar>(llm_confidence);
        for (std::size_t k = 0; k < f_; ++k) out[3 * d_ + 2 + k] = static_cast<Scalar>(features[k]);
        const Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>> row(out, static_cast<Eigen::Index>(input_dim()));
        if (!row.allFinite())  // vectorised check; find the culprit only on failure
            for (std::size_t k = 0; k < input_dim(); ++k)
                if (!std::isfinite(out[k]))
                    throw InvalidArgument(fmt::format("EEIModel: sample {}: feature {} is {} (expected finite)", index, feature_name(k), out[k]));
    }

    /// Raw inputs of samples[idx[0..n)] into X (n × input_dim()); with empty `idx`, samples in
    /// order. `first` is added to the sample numbers in errors.
    void make_inputs(const EntityEmbeddings<Scalar>& h, std::span<const EEISample> samples, Matrix& X,
                     std::span<const std::size_t> idx = {}, std::size_t first = 0) const {
        const std::size_t n = idx.empty() ? samples.size() : idx.size();
        X.resize(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(input_dim()));
        for (std::size_t r = 0; r < n; ++r) {
            const std::size_t i = idx.empty() ? r : idx[r];
            const EEISample& s = samples[i];
            write_input(h, s.trigger, s.candidate, s.edge_weight, s.llm_confidence, s.item_features, X.data() + r * input_dim(), first + i);
        }
    }

    /// Logits of raw input rows X (n × input_dim()) into `logits` (size n).
    void forward(const Eigen::Ref<const Matrix>& X, std::span<Scalar> logits, Workspace& ws) const {
        check_ready();
        if (static_cast<std::size_t>(X.cols()) != input_dim())
            throw InvalidArgument(fmt::format("EEIModel::forward: {} input columns (expected {})", X.cols(), input_dim()));
        if (logits.size() != static_cast<std::size_t>(X.rows()))
            throw InvalidArgument(fmt::format("EEIModel::forward: {} logits for {} rows", logits.size(), X.rows()));
        run_forward(X, ws);
        const auto out = ws.act[layers()].topRows(X.rows());
        for (std::size_t r = 0; r < logits.size(); ++r) logits[r] = out(static_cast<Eigen::Index>(r), 0);
    }

    /// Mean BCE + (λ/2)‖W‖² over rows X with `labels` (0/1), and its gradient (size
    /// parameter_count(), same layout as parameters()).
    double loss_and_gradient(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> labels, std::vector<Scalar>& gradient,
                             Workspace& ws) const {
        check_ready();
        const auto n = X.rows();
        if (static_cast<std::size_t>(n) != labels.size() || n == 0)
            throw InvalidArgument(fmt::format("EEIModel::loss_and_gradient: {} rows and {} labels", n, labels.size()));
        run_forward(X, ws);
        const std::size_t L = layers();
        gradient.assign(params_.size(), Scalar(0));
        ws.grad.resize(L + 1);
        auto dz = rows(ws.grad[L], n, 1);
        double loss = 0.0;
        for (Eigen::Index r = 0; r < n; ++r) {
            const double z = ws.act[L](r, 0), y = labels[static_cast<std::size_t>(r)];
            loss += std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::abs(z)));
            dz(r, 0) = static_cast<Scalar>((1.0 / (1.0 + std::exp(-z)) - y) / static_cast<double>(n));
        }
        loss /= static_cast<double>(n);
        for (std::size_t l = L; l-- > 0;) {
            const auto in = static_cast<Eigen::Index>(width(l)), out = static_cast<Eigen::Index>(width(l + 1));
            Eigen::Map<Matrix> gW(gradient.data() + w_off_[l], out, in);
            Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> gb(gradient.data() + b_off_[l], out);
            const auto dZ = ws.grad[l + 1].topRows(n);
            const auto A = ws.act[l].topRows(n);
            gW.noalias() = dZ.transpose() * A;
            gb = dZ.colwise().sum();
            const auto W = weights(l);
            gW += static_cast<Scalar>(cfg_.l2) * W;
            for (Eigen::Index k = 0; k < W.size(); ++k) loss += 0.5 * cfg_.l2 * static_cast<double>(W.data()[k]) * W.data()[k];
            if (l > 0) {
                auto dA = rows(ws.grad[l], n, static_cast<Eigen::Index>(width(l)));
                dA.noalias() = dZ * W;
                dA = (A.array() > Scalar(0)).select(dA, Scalar(0));  // ReLU'
            }
        }
        return loss;
    }

    /// Stage 1: fit on `train`, early-stopping on the AUC of `valid` (empty: run max_epochs).
    /// Labels must be 0 or 1. Standardisation statistics come from `train`.
    EEIFitReport fit(const EntityEmbeddings<Scalar>& h, std::span<const EEISample> train, std::span<const EEISample> valid = {},
                     ProgressCallback progress = {}) {
        check_ready();
        check_embeddings(h);
        if (train.empty()) throw InvalidArgument("EEIModel::fit: no training samples");
        auto check_labels = [](std::span<const EEISample> s, const char* what) {
            for (std::size_t i = 0; i < s.size(); ++i)
                if (s[i].label != 0.0f && s[i].label != 1.0f)
                    throw InvalidArgument(fmt::format("EEIModel::fit: {} sample {}: label {} (expected 0 or 1)", what, i, s[i].label));
        };
        check_labels(train, "training");
        check_labels(valid, "validation");
        standardise_from(h, train);
        EEIFitReport rep;
        rep.best_valid_auc = std::numeric_limits<double>::quiet_NaN();
        const std::size_t B = cfg_.batch_size, n = train.size();
        std::vector<std::size_t> order(n);
        std::iota(order.begin(), order.end(), std::size_t{0});
        Rng rng(derive_seed(cfg_.seed, 0xADA));
        std::vector<Scalar> m(params_.size(), Scalar(0)), v(params_.size(), Scalar(0)), g, labels, best = params_;
        Workspace ws;
        Matrix X;
        std::uint64_t step = 0;
        std::size_t since_best = 0;
        ProgressThrottle prog(std::move(progress), "eei: epochs", cfg_.max_epochs);
        for (std::size_t epoch = 1; epoch <= cfg_.max_epochs; ++epoch) {
            for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
            double loss_sum = 0.0;
            for (std::size_t b = 0; b < n; b += B) {
                const std::size_t nb = std::min(B, n - b);
                const std::span<const std::size_t> idx(order.data() + b, nb);
                make_inputs(h, train, X, idx);
                labels.resize(nb);
                for (std::size_t r = 0; r < nb; ++r) labels[r] = static_cast<Scalar>(train[idx[r]].label);
                loss_sum += loss_and_gradient(X, labels, g, ws) * static_cast<double>(nb);
                ++step;
                const double c1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(step));
                const double c2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(step));
                const auto b1 = static_cast<Scalar>(cfg_.beta1), b2 = static_cast<Scalar>(cfg_.beta2);
                const auto lr = static_cast<Scalar>(cfg_.learning_rate * std::sqrt(c2) / c1), eps = static_cast<Scalar>(cfg_.epsilon);
                for (std::size_t k = 0; k < params_.size(); ++k) {
                    m[k] = b1 * m[k] + (1 - b1) * g[k];
                    v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
                    params_[k] -= lr * m[k] / (std::sqrt(v[k]) + eps);
                }
            }
            rep.train_loss.push_back(loss_sum / static_cast<double>(n));
            rep.epochs = epoch;
            if (!std::isfinite(rep.train_loss.back()))
                throw Error(fmt::format("EEIModel::fit: training loss became {} in epoch {} (lower learning_rate?)", rep.train_loss.back(), epoch));
            prog.update(epoch);
            if (valid.empty()) {
                rep.best_epoch = epoch;
                continue;
            }
            const double a = validation_auc(h, valid);
            rep.valid_auc.push_back(a);
            if (!(a <= rep.best_valid_auc)) {  // first epoch, or better
                rep.best_valid_auc = a, rep.best_epoch = epoch, best = params_, since_best = 0;
            } else if (++since_best >= cfg_.patience) {
                break;
            }
        }
        if (!valid.empty()) params_ = best;
        prog.finish(rep.epochs);
        return rep;
    }

    /// Logits of samples (size of `logits` = samples.size()), in batches.
    void score(const EntityEmbeddings<Scalar>& h, std::span<const EEISample> samples, std::span<float> logits,
               std::size_t batch = 1024) const {
        if (logits.size() != samples.size())
            throw InvalidArgument(fmt::format("EEIModel::score: {} logits for {} samples", logits.size(), samples.size()));
        Workspace ws;
        std::vector<Scalar> z;
        for (std::size_t b = 0; b < samples.size(); b += batch) {
            const std::size_t n = std::min(batch, samples.size() - b);
            make_inputs(h, samples.subspan(b, n), ws.input, {}, b);
            z.resize(n);
            forward(ws.input, z, ws);
            for (std::size_t i = 0; i < n; ++i) logits[b + i] = static_cast<float>(z[i]);
        }
    }

    /// AUC of the model's logits on labelled samples.
    double validation_auc(const EntityEmbeddings<Scalar>& h, std::span<const EEISample> samples) const {
        std::vector<float> z(samples.size()), y(samples.size());
        score(h, samples, z);
        for (std::size_t i = 0; i < samples.size(); ++i) y[i] = samples[i].label;
        return auc(std::span<const float>(z), std::span<const float>(y));
    }

    /// Write the model atomically (see the file comment for the validation on load).
    void save(const std::filesystem::path& path) const {
        check_ready();
        std::string b;
        b.append(magic, 8);
        put<std::uint32_t>(b, format_version);
        put<std::uint32_t>(b, sizeof(Scalar));
        put<std::uint64_t>(b, d_);
        put<std::uint64_t>(b, f_);
        put<std::uint64_t>(b, cfg_.hidden.size());
        for (std::size_t w : cfg_.hidden) put<std::uint64_t>(b, w);
        put<double>(b, cfg_.learning_rate), put<double>(b, cfg_.l2);
        put<std::uint64_t>(b, params_.size());
        b.append(reinterpret_cast<const char*>(mean_.data()), mean_.size() * sizeof(Scalar));
        b.append(reinterpret_cast<const char*>(inv_std_.data()), inv_std_.size() * sizeof(Scalar));
        b.append(reinterpret_cast<const char*>(params_.data()), params_.size() * sizeof(Scalar));
        put<std::uint32_t>(b, crc32c(b));
        write_file_atomic(path, b);
    }

    /// Read a model file. Throws ParseError naming the file for a foreign, truncated or corrupted
    /// file, a scalar type other than Scalar, or non-finite values.
    static EEIModel load(const std::filesystem::path& path) {
        const std::string bytes = read_file(path);
        const std::string src = path.string();
        auto fail = [&](const std::string& what) { return ParseError(src, 0, 0, what); };
        if (bytes.size() < 8 + 8 + 24 + 4 || std::memcmp(bytes.data(), magic, 8) != 0) throw fail("not an E-E-I model file (bad magic)");
        const std::uint32_t stored_crc = get<std::uint32_t>(bytes, bytes.size() - 4);
        if (crc32c(std::string_view(bytes).substr(0, bytes.size() - 4)) != stored_crc) throw fail("checksum mismatch (corrupted or truncated)");
        std::size_t at = 8;
        if (const auto v = get<std::uint32_t>(bytes, at); v != format_version) throw fail(fmt::format("format version {} (expected {})", v, format_version));
        at += 4;
        if (const auto s = get<std::uint32_t>(bytes, at); s != sizeof(Scalar))
            throw fail(fmt::format("scalar of {} bytes (expected {}: load it as EEIModel<{}>)", s, sizeof(Scalar), s == 4 ? "float" : "double"));
        at += 4;
        EEIModel m;
        m.d_ = get<std::uint64_t>(bytes, at), at += 8;
        m.f_ = get<std::uint64_t>(bytes, at), at += 8;
        const auto nh = get<std::uint64_t>(bytes, at);
        at += 8;
        if (m.d_ == 0 || m.d_ > (1u << 20) || m.f_ > (1u << 20) || nh > 64) throw fail(fmt::format("implausible dimensions d={} f={} layers={}", m.d_, m.f_, nh));
        if (bytes.size() < at + nh * 8 + 24) throw fail("truncated header");
        m.cfg_.hidden.clear();
        for (std::uint64_t k = 0; k < nh; ++k) m.cfg_.hidden.push_back(get<std::uint64_t>(bytes, at)), at += 8;
        m.cfg_.learning_rate = get<double>(bytes, at), at += 8;
        m.cfg_.l2 = get<double>(bytes, at), at += 8;
        try {
            m.cfg_.validate();
        } catch (const InvalidArgument& e) {
            throw fail(e.what());
        }
        const auto np = get<std::uint64_t>(bytes, at);
        at += 8;
        m.layout();
        if (np != m.params_.size()) throw fail(fmt::format("{} parameters (expected {} for the stored dimensions)", np, m.params_.size()));
        const std::size_t in = m.input_dim();
        if (bytes.size() != at + (2 * in + np) * sizeof(Scalar) + 4) throw fail("size does not match the stored dimensions");
        m.mean_.resize(in), m.inv_std_.resize(in);
        std::memcpy(m.mean_.data(), bytes.data() + at, in * sizeof(Scalar)), at += in * sizeof(Scalar);
        std::memcpy(m.inv_std_.data(), bytes.data() + at, in * sizeof(Scalar)), at += in * sizeof(Scalar);
        std::memcpy(m.params_.data(), bytes.data() + at, np * sizeof(Scalar));
        for (Scalar x : m.mean_) if (!std::isfinite(x)) throw fail("non-finite input mean");
        for (Scalar x : m.inv_std_) if (!std::isfinite(x)) throw fail("non-finite input scale");
        for (Scalar x : m.params_) if (!std::isfinite(x)) throw fail("non-finite parameter");
        return m;
    }

    /// load() and check the dimensions the caller will feed it: a file of another dimension is a
    /// clear error naming both.
    static EEIModel load(const std::filesystem::path& path, std::size_t embedding_dim, std::size_t feature_dim) {
        EEIModel m = load(path);
        if (m.d_ != embedding_dim || m.f_ != feature_dim)
            throw InvalidArgument(fmt::format("{}: E-E-I model for embedding dim {} and {} item features (expected {} and {})",
                                              path.string(), m.d_, m.f_, embedding_dim, feature_dim));
        return m;
    }

private:
    std::size_t width(std::size_t l) const noexcept { return widths_[l]; }
    Eigen::Map<const Matrix> weights(std::size_t l) const {
        return {params_.data() + w_off_[l], static_cast<Eigen::Index>(width(l + 1)), static_cast<Eigen::Index>(width(l))};
    }
    Eigen::Map<const Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> bias(std::size_t l) const {
        return {params_.data() + b_off_[l], static_cast<Eigen::Index>(width(l + 1))};
    }
    void layout() {
        widths_.clear();
        widths_.push_back(input_dim());
        for (std::size_t w : cfg_.hidden) widths_.push_back(w);
        widths_.push_back(1);
        w_off_.clear(), b_off_.clear();
        std::size_t off = 0;
        for (std::size_t l = 0; l + 1 < widths_.size(); ++l) {
            w_off_.push_back(off), off += widths_[l] * widths_[l + 1];
            b_off_.push_back(off), off += widths_[l + 1];
        }
        params_.assign(off, Scalar(0));
    }
    void check_ready() const {
        if (params_.empty()) throw InvalidArgument("EEIModel: default-constructed model (construct with dimensions or load a file)");
    }
    void check_embeddings(const EntityEmbeddings<Scalar>& h) const {
        if (h.dim() != d_)
            throw InvalidArgument(fmt::format("EEIModel: embeddings of dim {} (the model expects {})", h.dim(), d_));
    }
    /// The first n rows of m, growing m (never shrinking) so that steady-state calls allocate nothing.
    static auto rows(Matrix& m, Eigen::Index n, Eigen::Index cols) {
        if (m.rows() < n || m.cols() != cols) m.resize(std::max(n, m.cols() == cols ? m.rows() : Eigen::Index{0}), cols);
        return m.topRows(n);
    }
    void run_forward(const Eigen::Ref<const Matrix>& X, Workspace& ws) const {
        const std::size_t L = layers();
        ws.act.resize(L + 1);
        const auto n = X.rows();
        const Eigen::Map<const Eigen::Array<Scalar, 1, Eigen::Dynamic>> mean(mean_.data(), static_cast<Eigen::Index>(mean_.size()));
        const Eigen::Map<const Eigen::Array<Scalar, 1, Eigen::Dynamic>> scale(inv_std_.data(), static_cast<Eigen::Index>(inv_std_.size()));
        rows(ws.act[0], n, X.cols()).array() = (X.array().rowwise() - mean).rowwise() * scale;
        for (std::size_t l = 0; l < L; ++l) {
            auto out = rows(ws.act[l + 1], n, static_cast<Eigen::Index>(width(l + 1)));
            out.noalias() = ws.act[l].topRows(n) * weights(l).transpose();
            out.rowwise() += bias(l);
            if (l + 1 < L) out = out.cwiseMax(Scalar(0));
        }
    }
    void standardise_from(const EntityEmbeddings<Scalar>& h, std::span<const EEISample> train) {
        const std::size_t in = input_dim();
        std::vector<double> s(in, 0.0), s2(in, 0.0);
        Matrix X;
        for (std::size_t b = 0; b < train.size(); b += 4096) {
            const std::size_t n = std::min<std::size_t>(4096, train.size() - b);
            make_inputs(h, train.subspan(b, n), X, {}, b);
            for (std::size_t r = 0; r < n; ++r)
                for (std::size_t k = 0; k < in; ++k) {
                    const double x = X(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(k));
                    s[k] += x, s2[k] += x * x;
                }
        }
        const double n = static_cast<double>(train.size());
        for (std::size_t k = 0; k < in; ++k) {
            const double mu = s[k] / n, var = std::max(0.0, s2[k] / n - mu * mu);
            mean_[k] = static_cast<Scalar>(mu);
            inv_std_[k] = static_cast<Scalar>(var > 1e-12 ? 1.0 / std::sqrt(var) : 1.0);
        }
    }
    template <class T>
    static void put(std::string& b, T v) {
        b.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    template <class T>
    static T get(const std::string& b, std::size_t at) {
        T v;
        std::memcpy(&v, b.data() + at, sizeof v);
        return v;
    }

    std::size_t d_ = 0, f_ = 0;
    EEIConfig cfg_;
    std::vector<std::size_t> widths_;  // input, hidden..., 1
    std::vector<std::size_t> w_off_, b_off_;
    std::vector<Scalar> params_, mean_, inv_std_;
};

}  // namespace kerec
