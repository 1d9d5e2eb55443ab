// Synthetic chest CT cases for demos, tests and training: an analytic chest (body wall with
// fat and muscle, both lungs with five lobes and fissures, trachea and branching airways,
// branching pulmonary vessels whose cross-sections look like nodules, heart, aorta, spine,
// ribs, CT noise) with 0-3 lung nodules of known position, size, type and lobe.
//
// Everything is a pure function of PhantomOptions (seed included): the same options give
// the same voxels, UIDs, truth and texts on every machine (own PRNG, no std::*_distribution).
// Units: millimetres, LPS patient coordinates, Hounsfield units. Thread-safe (no state).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "imaging/dicom_writer.h"
#include "imaging/volume.h"
#include "kernels/status.h"

namespace consilium::imaging {

enum class Lobe { RightUpper, RightMiddle, RightLower, LeftUpper, LeftLower };
enum class NoduleType { Solid, PartSolid, GroundGlass };

const char* lobeCode(Lobe lobe);           // "RUL", "RML", "RLL", "LUL", "LLL"
const char* lobeName(Lobe lobe);           // "right upper lobe", ...
const char* noduleTypeCode(NoduleType t);  // "solid", "part-solid", "ground-glass"

struct PhantomOptions {
    uint64_t seed = 1;
    int matrix = 0;           // rows = columns; 0 = drawn from {256, 320, 384, 448, 512}
    int slices = 0;           // 0 = enough to cover the chest at the drawn slice spacing
    double pixelSpacing = 0;  // mm; 0 = drawn from [0.6, 0.95]
    double sliceSpacing = 0;  // mm; 0 = drawn from [1, 3]
    int nodules = -1;         // -1 = drawn from 0..3
    double noiseHu = 12.0;    // standard deviation of the added Gaussian noise
};

struct PhantomNodule {
    Vec3 centre{};               // LPS mm
    double diameterMm = 0;       // mean diameter (Lung-RADS measures the mean)
    double solidDiameterMm = 0;  // solid component (part-solid), = diameter for solid, 0 for GGN
    NoduleType type = NoduleType::Solid;
    Lobe lobe = Lobe::RightUpper;
    std::string lungRads;  // category this nodule alone earns: "2", "3", "4A", "4B"
};

struct PatientRecord {
    int age = 60;
    std::string sex;  // "M" or "F"
    double packYears = 0;
    int yearsSinceQuit = -1;  // -1: current smoker
    std::string text;         // English, a few sentences
};

struct PhantomCase {
    Volume volume;  // Int16 HU, axial, IOP 1\0\0\0\1\0, slices from feet to head (+z)
    std::vector<PhantomNodule> nodules;
    std::string lungRads;  // overall Lung-RADS v2022 category: "1", "2", "3", "4A", "4B"
    PatientRecord patient;
    std::vector<std::pair<std::string, std::string>> questions;  // (question, expected answer)
    CtSeriesMetadata metadata;  // names, UIDs (deterministic), description
    uint64_t seed = 0;
};

// Lung-RADS v2022 category of one baseline-screening nodule (ACR Lung-RADS v2022 table):
// solid <6 → 2, 6-<8 → 3, 8-<15 → 4A, ≥15 → 4B; part-solid <6 → 2, solid part <6 → 3,
// 6-<8 → 4A, ≥8 → 4B; ground glass <30 → 2, ≥30 → 3. Diameters in mm, rounded to 0.1 mm.
std::string lungRadsCategory(NoduleType type, double diameterMm, double solidDiameterMm);

// Builds one case. Errors: InvalidArgument (matrix outside 64..1024, slices outside
// 8..2000, spacing not positive, nodules > 3).
Result<PhantomCase> generatePhantom(const PhantomOptions& options);

// Lobe labels of the case `options` makes, at the voxel centres of a model grid of outDims
// (x, y, z) voxels laid over the volume as resampleToGrid (imaging/reslice.h) lays it:
// 0 outside the lungs, 1 + Lobe inside ([z][y][x], uint8). Draws the anatomy only, no
// voxels, so it is cheap. Errors: those of generatePhantom, InvalidArgument (outDims).
Result<std::vector<uint8_t>> phantomLobeGrid(const PhantomOptions& options,
                                             std::array<int, 3> outDims);

// Writes the case into `dir`: the DICOM series in dir/dicom/ (CT Image Storage, one file per
// slice, IM00001...), and dir/truth.json, dir/patient_record.txt, dir/questions.txt.
Status writePhantomCase(const PhantomCase& c, const std::string& dir,
                        const DicomWriteOptions& options = {});

// truth.json text of a case (UTF-8 JSON object).
std::string phantomTruthJson(const PhantomCase& c);

}  // namespace consilium::imaging
