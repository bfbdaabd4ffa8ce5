import { Field, Float, ObjectType } from "type-graphql";

@ObjectType({ description: "one file of a stored result" })
export class ArtifactFile {
  @Field()
  name: string;

  @Field(() => Float)
  sizeBytes: number;
}

@ObjectType({ description: "the result of a training job stored at the gateway, once uploaded and verified" })
export class Artifact {
  @Field({ description: "gateway://<jobId>" })
  uri: string;

  @Field(() => Float)
  sizeBytes: number;

  @Field({ description: "hex SHA-256 of the tar; also its ETag" })
  sha256: string;

  @Field(() => [ArtifactFile])
  files: ArtifactFile[];

  @Field()
  createdAt: Date;

  @Field({ description: "signed, short-lived (15 minutes); GET streams the tar (application/x-tar)" })
  downloadUrl: string;
}
