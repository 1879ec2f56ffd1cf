// The course's custom tfjs layers. Importing this module registers both classes
// with tf.serialization, so saved models that use them load again.
export * from "./lrn";
export * from "./grouped-conv";
