import { readFileSync } from 'node:fs';
import { ModelArtifactError } from './artifact.ts';
import { decodeFused, isFusedArtifact } from './fused-artifact.ts';
import type { FusedClassifierModel } from './fused-model.ts';
import { type ClassifierModel, modelFromBytes } from './model.ts';

export type AnyClassifyModel = ClassifierModel | FusedClassifierModel;

export function isFused(m: AnyClassifyModel): m is FusedClassifierModel {
  return 'kind' in m && m.kind === 'fused';
}

/** Either artifact type, told apart by its magic bytes: an n-gram `.flcm` or a fused `.flcf`. */
export function loadAnyClassifyModel(path: string): AnyClassifyModel {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ModelArtifactError('NOT_FOUND', path, (e as Error).message);
  }
  return isFusedArtifact(bytes) ? decodeFused(bytes, path) : modelFromBytes(bytes);
}
